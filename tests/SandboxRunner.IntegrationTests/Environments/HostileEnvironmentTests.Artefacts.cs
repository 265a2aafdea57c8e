using System.Text.Json;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Policy;
using SandboxRunner.Runs;
using SandboxRunner.Boxes;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.IntegrationTests.Environments;

/// <summary>The setup's artefacts and the images: what a task does to them or beside its tree stays in its own container.</summary>
public sealed partial class HostileEnvironmentTests
{
    private const string Contaminate =
        "@run * echo envred-marker >> /home/sandbox/.bashrc; echo envred-marker > /home/sandbox/.profile; echo envred-marker > /tmp/envred-marker; " +
        "echo envred-marker > /usr/local/bin/git; echo envred-marker > deps/lib.txt; echo envred-marker > deps/planted.txt";

    private const string CheckClean =
        "@run 0 ! grep -rqs envred-marker /home/sandbox /usr/local/bin && test ! -e /tmp/envred-marker && grep -qx v1 deps/lib.txt && test ! -e deps/planted.txt";

    [Fact]
    public async Task Writes_outside_the_workspace_and_into_the_artefacts_are_not_in_the_result()
    {
        await using var h = await HarnessAsync(docker);

        var result = await RunWithSiblingAsync(h, RunnerHarness.Task("outside", Contaminate, "@write src/kept.txt kept\\n"));

        Assert.True(result.Status == TaskStatus.Success, result.NotesForManager);
        Assert.Equal(["src/kept.txt"], result.FilesChanged);
        Assert.DoesNotContain("envred-marker", result.Patch, StringComparison.Ordinal);
    }

    [Fact]
    public async Task What_a_task_writes_outside_its_tree_or_into_the_artefacts_is_gone_for_the_next_task_and_the_next_run()
    {
        await using var h = await HarnessAsync(docker);

        var first = await h.RunAsync(new RunRequest { Concurrency = 1, Tasks = [RunnerHarness.Task("dirty", Contaminate, "@message dirtied"), RunnerHarness.Task("after", CheckClean, "@message checked")] }, CancellationToken.None);
        var second = await h.RunAsync(RunnerHarness.Task("next-run", CheckClean, "@message checked"));

        var started = h.Engine.Specs.Where(s => s.Value.Labels[Labels.Task] is "dirty" or "after").ToDictionary(s => s.Value.Labels[Labels.Task], s => h.Engine.Started[s.Key]);
        Assert.True(started["dirty"] < started["after"], "the checking task ran after the one that dirtied its box");
        foreach (var checkedTask in first.Results.Where(r => r.TaskId == "after").Concat(second.Results))
        {
            Assert.True(checkedTask.Status == TaskStatus.Success, $"{checkedTask.TaskId}: {checkedTask.NotesForManager}\n{checkedTask.Logs.Tail}");
            Assert.Equal(0, Assert.Single(checkedTask.CommandsRun).ExitCode);
        }
    }

    [Fact]
    public async Task A_run_leaves_the_setup_image_as_it_was_and_removes_its_run_image()
    {
        await using var h = await HarnessAsync(docker);
        await h.RunAsync(RunnerHarness.Task("warm", "@message warm"));
        var setupTag = SetupImageOf(h);
        var before = await h.Engine.InspectImageAsync(setupTag, CancellationToken.None);

        var run = await h.RunAsync(RunnerHarness.Task("dirty", Contaminate, "@run * rm -rf deps", "@message dirtied"));

        var after = await h.Engine.InspectImageAsync(setupTag, CancellationToken.None);
        Assert.Equal(before!.Id, after!.Id);
        Assert.Equal(before.Labels, after.Labels);
        var runImage = h.Engine.Specs.Values.Single(s => s.Labels[Labels.Run] == run.RunId && s.Labels[Labels.Task] == "dirty").Image;
        Assert.StartsWith("sandbox-runner/run:", runImage, StringComparison.Ordinal);
        Assert.Null(await h.Engine.InspectImageAsync(runImage, CancellationToken.None));
    }

    [Fact]
    public async Task An_artefact_that_a_later_commit_tracks_is_the_tasks_to_change()
    {
        await using var h = await HarnessAsync(docker, Spec("mkdir -p gen && echo from-setup > gen/out.txt && echo from-setup > tool.cfg"));
        await h.RunAsync(RunnerHarness.Task("warm", "@message warm"));
        h.Repository.Write("gen/out.txt", "tracked\n");
        File.CreateSymbolicLink(Path.Combine(h.Repository.Path, "tool.cfg"), "src/app.txt");
        h.Repository.Git("add", "-A");
        h.Repository.Git("commit", "-qm", "track what setup used to make");

        var result = await RunWithSiblingAsync(h, RunnerHarness.Task("tracked",
            "@run 0 grep -qx tracked gen/out.txt", "@write gen/out.txt changed by the task\\n", "@write gen/new.txt new\\n", "@run 0 ln -sfn README.md tool.cfg"));

        Assert.True(result.Status == TaskStatus.Success, result.NotesForManager);
        Assert.Equal(["gen/new.txt", "gen/out.txt", "tool.cfg"], result.FilesChanged.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_setup_artefact_linking_out_of_the_tree_cannot_make_the_harvest_write_outside_it()
    {
        await using var h = await HarnessAsync(docker, Spec("ln -s / rootlink && ln -s /home/sandbox homelink && mkdir -p deps && echo v1 > deps/lib.txt"));
        var marker = Marker();

        var result = await RunWithSiblingAsync(h, RunnerHarness.Task("vialink",
            "@run 0 echo via > rootlink/workspace/src/via-link.txt", $"@run * echo through > rootlink{marker}", "@run 0 echo home > homelink/planted", "@run 0 rm rootlink && mkdir rootlink && echo x > rootlink/tmp"));

        Assert.True(result.Status == TaskStatus.Success, result.NotesForManager);

        // The folder the task made where setup's (untracked, not ignored) link was is the task's work and comes back
        // (issue 21: work under an artefact git would not ignore is never dropped); nothing went through the link.
        Assert.Equal(["rootlink/tmp", "src/via-link.txt"], result.FilesChanged);
        Assert.False(File.Exists(marker));
    }

    [Fact]
    public async Task A_nested_repository_left_by_setup_stays_an_artefact_and_a_gitdir_file_the_task_plants_is_not_kept()
    {
        await using var h = await HarnessAsync(docker, Spec("git init -q vendor/lib && echo '[core]' > vendor/lib/.git/config"));

        var result = await RunWithSiblingAsync(h, RunnerHarness.Task("nested",
            "@write vendor/lib/.git/hooks/post-checkout #!/bin/sh\\n", "@run 0 mkdir -p src/sub && printf 'gitdir: /etc\\n' > src/sub/.git && echo code > src/sub/code.c"));

        Assert.True(result.Status == TaskStatus.Success, result.NotesForManager);
        Assert.Equal(["src/sub/code.c"], result.FilesChanged);
        Assert.DoesNotContain("src/sub/.git", h.Repository.Git("ls-tree", "-r", "--name-only", result.Branch!).Split('\n'));
    }

    [Fact]
    public async Task A_file_written_into_an_empty_folder_that_setup_made_comes_back()
    {
        await using var h = await HarnessAsync(docker, Spec("mkdir -p deps build/out && echo v1 > deps/lib.txt"));

        var result = await RunWithSiblingAsync(h, RunnerHarness.Task("intoempty", "@write build/out/report.txt made by the task\\n", "@message done"));

        Assert.True(result.Status == TaskStatus.Success, result.NotesForManager);
        Assert.Equal(["build/out/report.txt"], result.FilesChanged);
    }

    [Fact]
    public async Task A_file_replaced_by_a_folder_comes_back_as_that_folder()
    {
        await using var h = await HarnessAsync(docker);

        var result = await RunWithSiblingAsync(h, RunnerHarness.Task("file2dir", "@run 0 rm README.md && mkdir README.md && echo inside > README.md/inside.txt", "@message done"));

        Assert.True(result.Status == TaskStatus.Success, result.NotesForManager);
        Assert.Equal(["README.md", "README.md/inside.txt"], result.FilesChanged.Order(StringComparer.Ordinal));
        Assert.True(result.PatchApplicable, result.ApplyCheckLog);
    }

    [Fact]
    public async Task A_tracked_folder_removed_and_made_again_comes_back_as_made()
    {
        await using var h = await HarnessAsync(docker);

        var result = await RunWithSiblingAsync(h, RunnerHarness.Task("remake", "@run 0 rm -rf src && mkdir -p src/deeper && echo again > src/app.txt && echo new > src/deeper/new.txt", "@message done"));

        Assert.True(result.Status == TaskStatus.Success, result.NotesForManager);
        Assert.Equal(["src/app.txt", "src/data.bin", "src/deeper/new.txt"], result.FilesChanged.Order(StringComparer.Ordinal));
        Assert.Equal("again\n", h.Repository.Git("show", $"{result.Branch}:src/app.txt"));
    }

    private static string SetupImageOf(RunnerHarness h)
    {
        var record = Directory.EnumerateFiles(Path.Combine(h.Repository.Path, RunStore.FolderName), "setup.json", SearchOption.AllDirectories).First();
        return JsonDocument.Parse(File.ReadAllText(record)).RootElement.GetProperty("setup_image").GetString()!;
    }
}
