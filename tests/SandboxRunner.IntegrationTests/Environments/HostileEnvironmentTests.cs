using System.Diagnostics;
using SandboxRunner.Configuration;
using SandboxRunner.Environments;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Policy;
using SandboxRunner.Runs;
using Xunit.Abstractions;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.IntegrationTests.Environments;

/// <summary>
/// A hostile agent against the environment path (issue 11): its checkout lives in the writable root
/// filesystem of a container started from the run image, and only what the engine's change list names
/// comes back, through the archive API. Each attack runs beside an honest sibling that must keep its
/// result; each checks that nothing ran or was written on the host, and that the result is judged.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed partial class HostileEnvironmentTests(DockerFixture docker, ITestOutputHelper output)
{
    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(4);

    /// <summary>The same setup and lock file in every test, so the setup image is made once and reused.</summary>
    private static EnvironmentSpec Spec(params string[] setup) => new()
    {
        BaseImage = "debian:bookworm-slim",
        Setup = setup.Length > 0 ? setup : ["mkdir -p deps && echo v1 > deps/lib.txt"],
        CacheKeys = ["deps.lock"],
    };

    private static async Task<RunnerHarness> HarnessAsync(DockerFixture docker, EnvironmentSpec? spec = null, TaskLimitOverrides? limits = null)
    {
        var h = await RunnerHarness.CreateAsync(docker, c => c with { Environment = spec ?? Spec(), TaskLimits = limits ?? c.TaskLimits });
        h.Repository.Write(".gitignore", "deps/\n");
        h.Repository.Write("deps.lock", "lock for the hostile environment tests\n");
        h.Repository.Git("add", "-A");
        h.Repository.Git("commit", "-qm", "environment");
        return h;
    }

    private static TaskRequest Sibling => RunnerHarness.Task("sibling", "@write src/sibling.txt fine\\n", "@message sibling done");

    private async Task<TaskResult> RunWithSiblingAsync(RunnerHarness h, TaskRequest hostile)
    {
        using var bound = new CancellationTokenSource(Bound);
        var clock = Stopwatch.StartNew();
        var run = await h.RunAsync(new RunRequest { Tasks = [hostile, Sibling] }, bound.Token).WaitAsync(Bound);
        var sibling = run.Results.Single(r => r.TaskId == "sibling");
        var result = run.Results.Single(r => r.TaskId != "sibling");
        output.WriteLine($"took {clock.Elapsed}; {result.Status}; files: {string.Join(" | ", result.FilesChanged.Take(8))}");
        output.WriteLine($"notes: {result.NotesForManager[..Math.Min(3000, result.NotesForManager.Length)]}");
        Assert.True(sibling.Status == TaskStatus.Success, $"sibling: {sibling.Status}: {sibling.NotesForManager}");
        Assert.Equal(["src/sibling.txt"], sibling.FilesChanged);
        return result;
    }

    private static string Marker() => Path.Combine(Path.GetTempPath(), $"envred-{Guid.NewGuid():N}");

    [Fact]
    public async Task A_folder_replaced_by_a_link_to_the_root_comes_back_as_that_link_and_nothing_is_written_through_it()
    {
        await using var h = await HarnessAsync(docker);
        var marker = Marker();

        var result = await RunWithSiblingAsync(h, RunnerHarness.Task("rootlink",
            $"@run 0 rm -rf src && ln -s / src && echo through > src{marker}",
            "@write docs/kept.txt kept\\n"));

        Assert.Equal(TaskStatus.Failed, result.Status);
        Assert.Contains(result.Violations, v => v.Kind == ViolationKind.SymlinkEscape && v.Path == "src");
        Assert.Contains("docs/kept.txt", result.FilesChanged);
        Assert.Equal("120000", h.Repository.Git("ls-tree", result.Branch!, "src").Split(' ')[0]);
        Assert.False(File.Exists(marker), "nothing the task wrote through its link reached the host");
    }

    [Fact]
    public async Task A_link_chain_to_the_host_repository_is_a_violation_and_the_host_repository_is_untouched()
    {
        await using var h = await HarnessAsync(docker);
        var before = h.Repository.GitStateFingerprint();

        var result = await RunWithSiblingAsync(h, RunnerHarness.Task("chain",
            $"@run * cd src && ln -s b a && ln -s c b && ln -s {h.Repository.GitDir} c && mkdir -p c && echo '[core] hooksPath = /tmp' >> a/config",
            $"@symlink src/cfg ../../../../../../../..{h.Repository.GitDir}/config"));

        Assert.Equal(TaskStatus.Failed, result.Status);
        Assert.Contains(result.Violations, v => v.Kind == ViolationKind.SymlinkEscape && v.Path == "src/cfg");
        Assert.Contains(result.Violations, v => v.Kind == ViolationKind.SymlinkEscape && v.Path is "src/a" or "src/b" or "src/c");
        Assert.Equal(before, h.Repository.GitStateFingerprint());
    }

    [Fact]
    public async Task A_tracked_file_replaced_by_a_fifo_is_a_special_file_and_does_not_hang_the_harvest()
    {
        await using var h = await HarnessAsync(docker);

        var result = await RunWithSiblingAsync(h, RunnerHarness.Task("fifo", "@run 0 rm README.md && mkfifo README.md", "@write src/kept.txt kept\\n"));

        Assert.Equal(TaskStatus.Failed, result.Status);
        Assert.Contains(result.Violations, v => v.Kind == ViolationKind.SpecialFile && v.Path == "README.md");
        Assert.Contains("src/kept.txt", result.FilesChanged);
    }

    [Fact]
    public async Task A_task_without_capabilities_makes_no_device_and_no_hard_link_to_a_system_file()
    {
        await using var h = await HarnessAsync(docker);

        var result = await RunWithSiblingAsync(h, RunnerHarness.Task("nodes", "@run * mknod src/mem c 1 1", "@run * ln /etc/shadow src/shadow", "@message tried"));

        Assert.All(result.CommandsRun, c => Assert.NotEqual(0, c.ExitCode));
        Assert.Empty(result.FilesChanged);
    }

    [Fact]
    public async Task A_hard_link_to_an_artefact_comes_back_as_a_plain_copy_of_it()
    {
        await using var h = await HarnessAsync(docker);

        var result = await RunWithSiblingAsync(h, RunnerHarness.Task("hardlink", "@run 0 ln deps/lib.txt src/lib.txt", "@message linked"));

        Assert.True(result.Status == TaskStatus.Success, result.NotesForManager);
        Assert.Equal(["src/lib.txt"], result.FilesChanged);
        Assert.Equal("100644", h.Repository.Git("ls-tree", result.Branch!, "src/lib.txt").Split(' ')[0]);
        Assert.Equal("v1\n", h.Repository.Git("show", $"{result.Branch}:src/lib.txt"));
    }

    [Fact]
    public async Task A_file_name_that_is_not_utf8_is_an_unsafe_path_and_the_rest_of_the_change_is_kept()
    {
        await using var h = await HarnessAsync(docker);

        var result = await RunWithSiblingAsync(h, RunnerHarness.Task("utf8",
            "@write src/kept.txt kept\\n", "@run 0 touch \"$(printf 'src/bad\\377name')\" && mkdir \"$(printf 'bad\\376dir')\" && touch \"$(printf 'bad\\376dir/inside')\""));

        Assert.Equal(TaskStatus.Failed, result.Status);
        Assert.Equal(2, result.Violations.Count(v => v.Kind == ViolationKind.UnsafePath && v.Rule.Contains("UTF-8", StringComparison.Ordinal)));
        Assert.Equal(["src/kept.txt"], result.FilesChanged);
        Assert.Equal("kept\n", h.Repository.Git("show", $"{result.Branch}:src/kept.txt"));
    }

    [Fact]
    public async Task A_file_name_with_a_newline_is_an_unsafe_path_and_the_rest_of_the_change_is_kept()
    {
        await using var h = await HarnessAsync(docker);

        var result = await RunWithSiblingAsync(h, RunnerHarness.Task("newline", "@write src/kept.txt kept\\n", "@run 0 touch \"$(printf 'src/two\\nlines')\""));

        Assert.Equal(TaskStatus.Failed, result.Status);
        Assert.Contains(result.Violations, v => v.Kind == ViolationKind.UnsafePath && v.Path!.Contains("two", StringComparison.Ordinal));
        Assert.Contains("src/kept.txt", result.FilesChanged);
    }

    [Fact]
    public async Task A_very_long_name_and_a_tree_deeper_than_the_runner_reads_are_reported_and_the_rest_is_kept()
    {
        await using var h = await HarnessAsync(docker);
        var deep = string.Concat(Enumerable.Repeat("d/", 200));

        var result = await RunWithSiblingAsync(h, RunnerHarness.Task("deep",
            "@write src/kept.txt kept\\n", $"@run 0 touch src/{new string('n', 255)} && mkdir -p src/{deep} && touch src/{deep}leaf"));

        Assert.Equal(TaskStatus.Failed, result.Status);
        Assert.Contains(result.Violations, v => v.Kind == ViolationKind.LimitExceeded && v.Rule.Contains("nested past", StringComparison.Ordinal));
        Assert.Contains("src/kept.txt", result.FilesChanged);
        Assert.Contains($"src/{new string('n', 255)}", result.FilesChanged);
    }

    [Fact]
    public async Task Planted_git_settings_filters_and_alternates_run_nothing_on_the_host_and_are_reported()
    {
        await using var h = await HarnessAsync(docker);
        var marker = Marker();
        var before = h.Repository.GitStateFingerprint();
        string[] plant =
        [
            $"@run 0 git config core.fsmonitor 'touch {marker}-fsmonitor' && git config filter.evil.clean 'touch {marker}-clean' && git config filter.evil.smudge 'touch {marker}-smudge' && git config diff.evil.textconv 'touch {marker}-textconv' && git config core.pager 'touch {marker}-pager'",
            $"@write .git/hooks/pre-commit #!/bin/sh\\ntouch {marker}-hook\\n",
            "@write .git/info/attributes * filter=evil diff=evil\\n",
            "@write .gitattributes * filter=evil diff=evil\\n",
            $"@write .git/objects/info/alternates {h.Repository.GitDir}/objects\\n/etc\\n",
            "@write .git/shallow 0000000000000000000000000000000000000000\\n",
            "@write src/app.txt changed through the filter\\n",
        ];

        var result = await RunWithSiblingAsync(h, RunnerHarness.Task("gitcfg", plant));

        Assert.Equal(TaskStatus.Failed, result.Status);
        Assert.Contains(result.Violations, v => v.Kind == ViolationKind.GitDirectory && v.Path == ".git/config");
        Assert.Contains(result.Violations, v => v.Kind == ViolationKind.GitDirectory && v.Path == ".git/info/attributes");
        Assert.Contains(result.Violations, v => v.Kind == ViolationKind.GitDirectory && v.Path == ".git/hooks/pre-commit");
        Assert.Contains(result.Violations, v => v.Kind == ViolationKind.GitControlFile && v.Path == ".gitattributes");
        Assert.Equal("changed through the filter\n", h.Repository.Git("show", $"{result.Branch}:src/app.txt"));
        Assert.Empty(Directory.GetFiles(Path.GetTempPath(), Path.GetFileName(marker) + "*"));
        Assert.Equal(before, h.Repository.GitStateFingerprint());
    }

    [Fact]
    public async Task A_git_folder_replaced_by_a_link_to_the_host_repository_is_reported_and_never_followed()
    {
        await using var h = await HarnessAsync(docker);
        var before = h.Repository.GitStateFingerprint();

        var result = await RunWithSiblingAsync(h, RunnerHarness.Task("gitlink", $"@run 0 rm -rf .git && ln -s {h.Repository.GitDir} .git", "@write src/kept.txt kept\\n"));

        Assert.Equal(TaskStatus.Failed, result.Status);
        Assert.Contains(result.Violations, v => v.Kind == ViolationKind.GitDirectory);
        Assert.Equal(["src/kept.txt"], result.FilesChanged);
        Assert.Equal(before, h.Repository.GitStateFingerprint());
    }

    [Fact]
    public async Task Deleting_the_git_folder_and_every_tracked_file_comes_back_as_those_deletions()
    {
        await using var h = await HarnessAsync(docker);

        var result = await RunWithSiblingAsync(h, RunnerHarness.Task("wipe", "@run 0 rm -rf .git README.md src docs .gitignore deps.lock", "@message wiped"));

        Assert.Equal(TaskStatus.Failed, result.Status);
        Assert.Contains(result.Violations, v => v.Kind == ViolationKind.GitDirectory);
        Assert.Equal([".gitignore", "README.md", "deps.lock", "docs/old.txt", "src/app.txt", "src/data.bin"], result.FilesChanged.Order(StringComparer.Ordinal));
        Assert.Equal("", h.Repository.Git("ls-tree", result.Branch!));
    }
}
