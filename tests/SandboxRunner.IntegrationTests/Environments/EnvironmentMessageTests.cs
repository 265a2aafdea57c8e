using SandboxRunner.Configuration;
using SandboxRunner.Environments;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Runs;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.IntegrationTests.Environments;

/// <summary>What an environment that cannot be used says, on a real engine: the field at fault once, the cause, the fix.</summary>
[Collection(DockerCollection.Name)]
public sealed class EnvironmentMessageTests(DockerFixture docker)
{
    private static async Task<RunnerHarness> HarnessAsync(DockerFixture docker, Func<RunnerConfig, RunnerConfig> configure)
    {
        var h = await RunnerHarness.CreateAsync(docker, configure);
        h.Repository.Write(".gitignore", "deps/\n");
        h.Repository.Git("add", "-A");
        h.Repository.Git("commit", "-qm", "environment");
        return h;
    }

    [Fact]
    public async Task A_dry_run_names_a_missing_base_image_by_its_field_once()
    {
        await using var h = await HarnessAsync(docker, c => c with { Environment = new EnvironmentSpec { BaseImage = "sandbox-runner-test/absent:1" } });

        var refused = await Assert.ThrowsAsync<InvalidInputException>(() =>
            h.RunAsync(new RunRequest { Tasks = [RunnerHarness.Task("t", "@message never")], DryRun = true }, CancellationToken.None));

        Assert.Equal(
            ".mcp-codex.json: environment.base_image: 'sandbox-runner-test/absent:1' is not in the Docker engine; pull it (docker pull sandbox-runner-test/absent:1), " +
            "load it (docker load), or build it; make the base image available to the engine with what tasks need (git, bash), or point base_image at another",
            refused.Message);
    }

    [Fact]
    public async Task A_named_environment_is_named_by_its_own_field()
    {
        await using var h = await HarnessAsync(docker, c => c with
        {
            Environments = new Dictionary<string, EnvironmentSpec> { ["py"] = new() { BaseImage = "sandbox-runner-test/absent:2" } },
        });

        var refused = await Assert.ThrowsAsync<InvalidInputException>(() =>
            h.RunAsync(new RunRequest { Tasks = [RunnerHarness.Task("t", "@message never") with { Environment = "py" }], DryRun = true }, CancellationToken.None));

        Assert.StartsWith(".mcp-codex.json: environments.py.base_image: 'sandbox-runner-test/absent:2' is not in the Docker engine;", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_setup_that_installs_system_packages_says_setup_is_not_root_and_where_they_belong()
    {
        await using var h = await HarnessAsync(docker, c => c with
        {
            Environment = new EnvironmentSpec { BaseImage = "debian:bookworm-slim", Setup = ["apt-get install -y libpq-dev"] },
        });

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task("t", "@message never"))).Results);

        Assert.Equal(TaskStatus.Failed, result.Status);
        Assert.StartsWith(
            "environment.setup[0]: `apt-get install -y libpq-dev` (command 1 of 1) exited with 100: setup runs as uid 1000, not root, so it cannot install system packages; " +
            "install them in the base image, or in a Dockerfile named by dockerfile (RUN apt-get install -y …); fix the command in setup (its log: ",
            result.NotesForManager, StringComparison.Ordinal);
        Assert.Contains("are you root?", result.NotesForManager, StringComparison.Ordinal);
    }
}
