using System.Text;
using SandboxRunner.Configuration;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Runs;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.IntegrationTests;

[Collection(DockerCollection.Name)]
public sealed class TaskLifecycleTests(DockerFixture docker)
{
    [Fact]
    public async Task Success_with_added_modified_deleted_and_binary_files_gives_a_patch_that_applies_to_base_ref()
    {
        await using var h = await RunnerHarness.CreateAsync(docker);

        var run = await h.RunAsync(RunnerHarness.Task(
            "edit",
            "@write src/new.txt brand new\\n",
            "@append README.md more docs\\n",
            "@delete docs/old.txt",
            "@binary src/data.bin 300",
            "@binary assets/logo.bin 200",
            "@run 0 echo checked",
            "@message All done."));

        var result = Assert.Single(run.Results);
        Assert.Equal(TaskStatus.Success, result.Status);
        Assert.Equal(0, result.ExitCode);
        Assert.Equal(["README.md", "assets/logo.bin", "docs/old.txt", "src/data.bin", "src/new.txt"], result.FilesChanged.Order(StringComparer.Ordinal));
        Assert.True(result.PatchApplicable, result.ApplyCheckLog);
        Assert.Equal("All done.", result.Summary);
        Assert.Contains("GIT binary patch", result.Patch, StringComparison.Ordinal);
        var command = Assert.Single(result.CommandsRun);
        Assert.Equal(0, command.ExitCode);
        Assert.True(result.Usage.InputTokens > 0);

        // Independently of the runner: plain git applies the patch to a clone at base_ref and reproduces the files.
        var clone = Path.Combine(Path.GetTempPath(), "sr-tests", Guid.NewGuid().ToString("N")[..12]);
        try
        {
            TestRepository.RunGit(Path.GetTempPath(), null, "clone", "-q", h.Repository.Path, clone);
            TestRepository.RunGit(clone, null, "checkout", "-q", "--detach", run.BaseCommit);
            var patch = Encoding.UTF8.GetBytes(result.Patch);
            TestRepository.RunGit(clone, patch, "apply", "--check", "-");
            TestRepository.RunGit(clone, patch, "apply", "-");
            Assert.Equal("brand new\n", File.ReadAllText(Path.Combine(clone, "src", "new.txt")));
            Assert.Equal("# Test repo\nmore docs\n", File.ReadAllText(Path.Combine(clone, "README.md")));
            Assert.False(File.Exists(Path.Combine(clone, "docs", "old.txt")));
            Assert.Equal(300, File.ReadAllBytes(Path.Combine(clone, "src", "data.bin")).Length);
            Assert.Contains((byte)0, File.ReadAllBytes(Path.Combine(clone, "assets", "logo.bin")));
        }
        finally
        {
            Platform.TreeDeletion.Delete(clone);
        }
    }

    [Fact]
    public async Task A_non_zero_exit_is_a_failed_task_with_its_exit_code()
    {
        await using var h = await RunnerHarness.CreateAsync(docker);

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task("exit", "@write src/partial.txt x", "@exit 3"))).Results);

        Assert.Equal(TaskStatus.Failed, result.Status);
        Assert.Equal(3, result.ExitCode);
        Assert.Contains("exited with code 3", result.NotesForManager, StringComparison.Ordinal);
        Assert.Equal(["src/partial.txt"], result.FilesChanged);
    }

    [Fact]
    public async Task A_failed_turn_is_a_failed_task_with_the_model_error_in_the_notes()
    {
        await using var h = await RunnerHarness.CreateAsync(docker);

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task("fail", "@error Reconnecting... 1/5", "@fail model overloaded"))).Results);

        Assert.Equal(TaskStatus.Failed, result.Status);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("turn failed: model overloaded", result.NotesForManager, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Error_events_and_failed_commands_do_not_fail_a_completed_turn()
    {
        await using var h = await RunnerHarness.CreateAsync(docker);

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task("warn", "@error Reconnecting... 1/5", "@warn model fallback", "@run 2 exit 2", "@message ok"))).Results);

        Assert.Equal(TaskStatus.Success, result.Status);
        Assert.Equal(2, Assert.Single(result.CommandsRun).ExitCode);
        Assert.Contains("Reconnecting", result.NotesForManager, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_timeout_kills_the_container_within_two_seconds_of_the_deadline_and_keeps_its_changes()
    {
        await using var h = await RunnerHarness.CreateAsync(docker);

        var run = await h.RunAsync(new RunRequest { Tasks = [new TaskRequest { TaskId = "slow", Prompt = "@write src/early.txt before the deadline\n@sleep 300", TimeoutSec = 10 }] }, CancellationToken.None);

        var result = Assert.Single(run.Results);
        Assert.Equal(TaskStatus.Timeout, result.Status);
        Assert.Null(result.ExitCode);
        Assert.Equal(["src/early.txt"], result.FilesChanged);
        // The engine's own clock: from the container's start to its death by SIGKILL.
        var id = Assert.Single(h.Engine.Started.Keys);
        Assert.InRange(h.Engine.Lifetimes[id].TotalSeconds, 10, 12);
    }

    [Fact]
    public async Task Megabytes_of_output_are_parsed_and_the_kept_stdout_is_whole_json_lines()
    {
        await using var h = await RunnerHarness.CreateAsync(docker);

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task("noisy", "@noise 3", "@message quiet now"))).Results);

        Assert.True(result.Status == TaskStatus.Success, result.NotesForManager);
        Assert.True(result.CommandsRun.Count == 1, result.NotesForManager + "\n" + result.Logs.Stdout[^Math.Min(1500, result.Logs.Stdout.Length)..]);
        Assert.Equal("quiet now", result.Summary);
        Assert.True(result.Logs.Truncated);
        Assert.InRange(Encoding.UTF8.GetByteCount(result.Logs.Stdout), 1, 64 * 1024);
        foreach (var line in result.Logs.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            using var _ = System.Text.Json.JsonDocument.Parse(line);
        }

        Assert.InRange(result.Logs.Stderr.Length, 1, 64 * 1024);
        Assert.InRange(result.Logs.Tail.Length, 1, 500);
    }

    [Fact]
    public async Task Eight_tasks_at_concurrency_two_never_have_more_than_two_containers_at_once()
    {
        await using var h = await RunnerHarness.CreateAsync(docker, c => c with { DefaultConcurrency = 4 });
        var tasks = Enumerable.Range(1, 8).Select(i => RunnerHarness.Task($"t{i}", $"@write src/t{i}.txt {i}", "@sleep 1")).ToArray();

        var run = await h.RunAsync(new RunRequest { Tasks = tasks, Concurrency = 2 }, CancellationToken.None);

        Assert.All(run.Results, r => Assert.Equal(TaskStatus.Success, r.Status));
        Assert.All(run.Results, r => Assert.Equal([$"src/{r.TaskId}.txt"], r.FilesChanged));
        Assert.Equal(8, h.Engine.Started.Count);
        Assert.Equal(2, h.Engine.MaxAlive);
    }

    [Fact]
    public async Task Runs_share_the_process_wide_limit()
    {
        await using var h = await RunnerHarness.CreateAsync(docker, c => c with { DefaultConcurrency = 2 });
        RunRequest Batch(string run) => new() { RunId = run, Concurrency = 2, Tasks = Enumerable.Range(1, 3).Select(i => RunnerHarness.Task($"t{i}", "@sleep 1")).ToArray() };

        var runs = await Task.WhenAll(h.RunAsync(Batch("first"), CancellationToken.None), h.RunAsync(Batch("second"), CancellationToken.None));

        Assert.All(runs.SelectMany(r => r.Results), r => Assert.Equal(TaskStatus.Success, r.Status));
        Assert.Equal(2, h.Engine.MaxAlive);
    }

    [Fact]
    public async Task Cancelling_a_run_kills_its_containers_and_removes_its_worktrees()
    {
        await using var h = await RunnerHarness.CreateAsync(docker);
        using var cancel = new CancellationTokenSource();
        h.Engine.ContainerStarted += _ => cancel.CancelAfter(TimeSpan.FromMilliseconds(500));

        var started = System.Diagnostics.Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            h.RunAsync(new RunRequest { Tasks = [RunnerHarness.Task("a", "@sleep 300"), RunnerHarness.Task("b", "@sleep 300")] }, cancel.Token));

        Assert.InRange(started.Elapsed.TotalSeconds, 0, 30);
        Assert.Equal(h.Engine.Specs.Count, h.Engine.Removed.Count);
    }

    [Fact]
    public async Task A_dry_run_validates_and_creates_nothing()
    {
        await using var h = await RunnerHarness.CreateAsync(docker);

        var run = await h.RunAsync(new RunRequest { DryRun = true, Tasks = [RunnerHarness.Task("a", "@write x y")] }, CancellationToken.None);

        Assert.Equal(TaskStatus.Skipped, Assert.Single(run.Results).Status);
        Assert.Empty(h.Engine.Specs);
        Assert.False(Directory.Exists(Path.Combine(h.Runner.Repository.RunnerDir, "worktrees", run.RunId)));
    }

    [Theory]
    [InlineData("-rf")]
    [InlineData("no-such-branch")]
    [InlineData("--output=/tmp/x")]
    public async Task A_base_ref_that_does_not_resolve_or_looks_like_an_option_is_refused_before_anything_is_created(string baseRef)
    {
        await using var h = await RunnerHarness.CreateAsync(docker);

        var error = await Assert.ThrowsAsync<InvalidInputException>(() =>
            h.RunAsync(new RunRequest { BaseRef = baseRef, Tasks = [RunnerHarness.Task("a", "@write x y")] }, CancellationToken.None));

        Assert.Contains(error.Problems, p => p.Field == "base_ref");
        Assert.Empty(h.Engine.Specs);
        Assert.False(Directory.Exists(h.Runner.Repository.RunnerDir));
    }

    [Theory]
    [InlineData("..")]
    [InlineData(".")]
    [InlineData("-x")]
    [InlineData("a/b")]
    public async Task A_run_id_that_could_escape_the_runner_folder_is_refused(string runId)
    {
        await using var h = await RunnerHarness.CreateAsync(docker);
        var fingerprint = h.Repository.GitStateFingerprint();

        var error = await Assert.ThrowsAsync<InvalidInputException>(() =>
            h.RunAsync(new RunRequest { RunId = runId, Tasks = [RunnerHarness.Task("a", "@write x y")] }, CancellationToken.None));

        Assert.Contains(error.Problems, p => p.Field == "run_id");
        Assert.True(File.Exists(Path.Combine(h.Repository.Path, "README.md")));
        Assert.Equal(fingerprint, h.Repository.GitStateFingerprint());
    }
}
