using SandboxRunner.Environments;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Runs;
using SandboxRunner.Verification;
using TaskStatus = SandboxRunner.Runs.TaskStatus;
using SandboxRunner.Configuration;

namespace SandboxRunner.IntegrationTests.Verification;

/// <summary>
/// Verification of environment tasks: a fresh container of the run image (the setup's artefacts as setup left
/// them, the base checkout) with the harvested changes laid over it, so what a task did to the artefacts, which
/// is never harvested, cannot make its check pass.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class EnvironmentVerificationTests(DockerFixture docker)
{
    /// <summary>Setup makes deps/check.sh, the "test runner" (an artefact: deps/ is ignored), which checks src/app.txt.</summary>
    private static async Task<RunnerHarness> HarnessAsync(DockerFixture docker, IReadOnlyList<string> verify)
    {
        var spec = new EnvironmentSpec
        {
            BaseImage = "debian:bookworm-slim",
            Setup = ["mkdir -p deps && printf 'grep -q fixed src/app.txt && echo checked-by-setup-runner\\n' > deps/check.sh"],
            CacheKeys = ["deps.lock"],
            Verify = verify,
        };
        var h = await RunnerHarness.CreateAsync(docker, c => c with { Environment = spec });
        h.Repository.Write(".gitignore", "deps/\n");
        h.Repository.Write("deps.lock", $"lock {Guid.NewGuid():N}\n");
        h.Repository.Write("lib/file-to-folder", "a file the task makes a folder\n");
        h.Repository.Git("add", "-A");
        h.Repository.Git("commit", "-qm", "environment");
        return h;
    }

    [Fact]
    public async Task A_task_that_rewrites_the_setups_test_runner_instead_of_fixing_the_code_fails_its_verification()
    {
        await using var h = await HarnessAsync(docker, ["sh deps/check.sh"]);

        var results = (await h.RunAsync(
            RunnerHarness.Task("cheat", "@write deps/check.sh exit 0\\n", "@run 0 sh deps/check.sh", "@message All tests pass."),
            RunnerHarness.Task("honest", "@write src/app.txt fixed\\n", "@run 0 sh deps/check.sh", "@message Fixed."))).Results;

        var cheat = Assert.Single(results, r => r.TaskId == "cheat");
        Assert.Equal(0, Assert.Single(cheat.CommandsRun).ExitCode);
        Assert.Equal(TaskStatus.Failed, cheat.Status);
        Assert.Equal(VerificationStatus.Failed, cheat.Verification!.Status);
        Assert.Empty(cheat.FilesChanged);
        var honest = Assert.Single(results, r => r.TaskId == "honest");
        Assert.True(honest.Status == TaskStatus.Success, $"{honest.Status}: {honest.NotesForManager}");
        Assert.Contains("checked-by-setup-runner", honest.Verification!.Commands[0].OutputTail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_verified_tree_is_the_harvested_one_with_additions_deletions_links_and_a_file_made_a_folder()
    {
        await using var h = await HarnessAsync(docker,
        [
            "test ! -e docs/old.txt && test \"$(cat src/new/deep/file.txt)\" = added && test -L src/link && test \"$(readlink src/link)\" = new/deep/file.txt "
                + "&& test -f lib/file-to-folder/inner.txt && grep -q '^more docs$' README.md && test -d deps && test -x src/tool.sh && test \"$(id -u)\" != 0 && echo tree-as-harvested",
            "git status --porcelain | grep -q 'README.md' && echo git-works",
        ]);

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task("shapes",
            "@delete docs/old.txt",
            "@write src/new/deep/file.txt added",
            "@symlink src/link new/deep/file.txt",
            "@delete lib/file-to-folder",
            "@write lib/file-to-folder/inner.txt now a folder\\n",
            "@append README.md more docs\\n",
            "@write src/tool.sh echo tool\\n",
            "@run 0 chmod +x src/tool.sh",
            "@message Reshaped."))).Results);

        Assert.True(result.Status == TaskStatus.Success, $"{result.Status}: {result.NotesForManager}\n{string.Join('\n', result.Verification!.Commands.Select(c => c.OutputTail))}");
        Assert.Contains("tree-as-harvested", result.Verification!.Commands[0].OutputTail, StringComparison.Ordinal);
        Assert.Contains("git-works", result.Verification.Commands[1].OutputTail, StringComparison.Ordinal);
    }
}
