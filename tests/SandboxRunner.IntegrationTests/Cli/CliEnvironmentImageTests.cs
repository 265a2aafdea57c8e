using SandboxRunner.IntegrationTests.Infrastructure;
using static SandboxRunner.IntegrationTests.Infrastructure.McpServerProcess;

namespace SandboxRunner.IntegrationTests.Cli;

/// <summary>
/// <c>image build --dry-run</c> and <c>image prune</c> with an environment: the tags a CI cache keys on and saves
/// include the environment's images (its setup is the slowest part of a fresh machine), and prune keeps them.
/// </summary>
[Collection(CliCollection.Name)]
public sealed class CliEnvironmentImageTests(DockerFixture docker)
{
    [Fact]
    public async Task After_a_run_the_dry_run_lists_the_environments_images_and_prune_would_keep_them()
    {
        await using var h = CliHarness.Create(docker, """
            { "environment": { "base_image": "debian:bookworm-slim", "setup": ["mkdir -p deps"], "cache_keys": ["deps.lock"] } }
            """);
        h.Repository.Write(".gitignore", "deps/\n");
        h.Repository.Write("deps.lock", $"lock {Guid.NewGuid():N}\n");
        h.Repository.Git("add", "-A");
        h.Repository.Git("commit", "-qm", "environment");
        var run = await h.RunAsync("run", h.WriteTasks(Run(NewRunId("cli-envimg"), TaskArg("one", "@message done"))));
        Assert.True(run.ExitCode == 0, run.ToString());

        var listed = await h.RunAsync("image", "build", "--dry-run");
        var pruned = await h.RunAsync("image", "prune", "--dry-run");

        Assert.True(listed.ExitCode == 0, listed.ToString());
        var tags = listed.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(DockerFixture.FakeCodexImage, tags[0]);
        Assert.StartsWith("sandbox-runner/egress-proxy:", tags[1], StringComparison.Ordinal);
        Assert.Equal(["debian:bookworm-slim", "sandbox-runner/env:", "sandbox-runner/setup:", "sandbox-runner/envcodex:"],
            tags[2..].Select(t => t.StartsWith("sandbox-runner/", StringComparison.Ordinal) ? t[..(t.IndexOf(':') + 1)] : t));
        var setup = tags.Single(t => t.StartsWith("sandbox-runner/setup:", StringComparison.Ordinal));
        Assert.Contains($"kept         {setup} (", pruned.Stdout, StringComparison.Ordinal);
        Assert.Contains("the current config runs with it", pruned.Stdout.Split('\n').Single(l => l.Contains(setup, StringComparison.Ordinal)), StringComparison.Ordinal);
    }
}
