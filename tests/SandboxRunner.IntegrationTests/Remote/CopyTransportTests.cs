using SandboxRunner.Configuration;
using SandboxRunner.Policy;
using SandboxRunner.IntegrationTests.Infrastructure;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.IntegrationTests.Remote;

/// <summary>The copy transport forced on the host's own engine: same results as bind mounts, no mount of this machine in the container.</summary>
[Collection(DockerCollection.Name)]
public sealed class CopyTransportTests(DockerFixture docker)
{
    [Fact]
    public async Task A_copied_tree_gives_the_same_changes_as_a_mounted_one_and_the_container_mounts_nothing_of_this_machine()
    {
        await using var h = await RunnerHarness.CreateAsync(docker, c => c with { Transport = TransportPolicy.Copy });

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task(
            "edit",
            "@write src/new.txt brand new\\n",
            "@append README.md more docs\\n",
            "@delete docs/old.txt",
            "@binary src/data.bin 300",
            "@run 0 git status --short",
            "@message All done."))).Results);

        Assert.True(result.Status == TaskStatus.Success, $"{result.Status}: {result.NotesForManager}\n{result.Logs.Stderr}");
        Assert.Equal(["README.md", "docs/old.txt", "src/data.bin", "src/new.txt"], result.FilesChanged.Order(StringComparer.Ordinal));
        Assert.True(result.PatchApplicable, result.ApplyCheckLog);
        Assert.Contains("GIT binary patch", result.Patch, StringComparison.Ordinal);
        Assert.Equal("All done.", result.Summary);
        Assert.All(h.Engine.Specs.Values, spec => Assert.Empty(spec.Mounts));
        Assert.Single(h.Engine.Specs.Values, spec => spec.Labels.GetValueOrDefault(Boxes.Labels.Role) is null);

        // Looked at before fetching: one box beside the agent's, its volumes read-only, no network.
        var look = Assert.Single(h.Engine.Specs.Values, spec => spec.Labels.GetValueOrDefault(Boxes.Labels.Role) == Boxes.Labels.LookRole);
        Assert.EndsWith(":ro", Assert.Single(look.VolumesFrom), StringComparison.Ordinal);
        Assert.Equal("none", look.NetworkMode);
    }

    [Fact]
    public async Task A_40_GB_sparse_file_over_max_file_bytes_is_judged_from_a_look_at_the_tree_and_never_copied_out()
    {
        await using var h = await RunnerHarness.CreateAsync(docker, c => c with { Transport = TransportPolicy.Copy });

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task(
            "sparse", "@write src/note.txt note\\n", "@run 0 truncate -s 40G big.bin && truncate -s 40G README.md", "@message done"))).Results);

        Assert.Equal(TaskStatus.Failed, result.Status);
        Assert.Contains(result.Violations, v => v.Kind == ViolationKind.LimitExceeded && v.Path == "big.bin" && v.Rule.Contains("max_file_bytes", StringComparison.Ordinal));
        Assert.Contains(result.Violations, v => v.Kind == ViolationKind.LimitExceeded && v.Path == "README.md");
        Assert.DoesNotContain("big.bin", result.Patch ?? "", StringComparison.Ordinal);

        // The tracked file the agent blew up is not kept (it is gone from the copy, as the extraction always did); the note is.
        Assert.Equal(["README.md", "src/note.txt"], result.FilesChanged.Order(StringComparer.Ordinal));
        Assert.Contains(h.Engine.Specs.Values, spec => spec.Labels.GetValueOrDefault(Boxes.Labels.Role) == Boxes.Labels.LookRole);
    }

    [Fact]
    public async Task An_edit_that_keeps_a_files_size_and_sets_its_time_back_to_the_uploads_is_still_brought_back()
    {
        await using var h = await RunnerHarness.CreateAsync(docker, c => c with { Transport = TransportPolicy.Copy });

        // Same size, modification time set back to the upload's: only the change time (after the runner's stamp) tells.
        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task(
            "hidden", "@run 0 sed -i 's/./x/' README.md && touch -d @946684800 README.md", "@message done"))).Results);

        Assert.True(result.Status == TaskStatus.Success, $"{result.Status}: {result.NotesForManager}");
        Assert.Equal(["README.md"], result.FilesChanged);
    }

    [Fact]
    public async Task A_copied_tasks_verification_runs_on_its_harvested_tree_with_nothing_of_this_machine_mounted()
    {
        await using var h = await RunnerHarness.CreateAsync(docker, c => c with
        {
            Transport = TransportPolicy.Copy,
            Verify = ["test ! -e docs/old.txt && grep -qx 'brand new' src/new.txt && git status --porcelain | grep -q new.txt && echo verified-copy"],
        });

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task("edit", "@write src/new.txt brand new\\n", "@delete docs/old.txt", "@message done"))).Results);

        Assert.True(result.Status == TaskStatus.Success, $"{result.Status}: {result.NotesForManager}\n{result.Verification!.Commands[0].OutputTail}");
        Assert.Contains("verified-copy", result.Verification!.Commands[0].OutputTail, StringComparison.Ordinal);
        Assert.All(h.Engine.Specs.Values, spec => Assert.Empty(spec.Mounts));
    }
}
