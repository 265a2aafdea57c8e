using SandboxRunner.Boxes.Swarm;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Runs;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.IntegrationTests.Swarm;

/// <summary>
/// The runner's own Codex 0.169 image on the two-node swarm under <c>network_policy: deny</c>, its model the scripted
/// Responses API server on this machine (reached from the nodes through the local bridge's gateway), allowlisted as the
/// model endpoint only: the proxy service holds the key and forwards Codex's turns; the task's commands never see it.
/// </summary>
[Collection(SwarmCollection.Name)]
public sealed class SwarmRealCodexTests(SwarmFixture swarm)
{
    [Fact]
    public async Task The_real_codex_runs_a_task_on_the_swarm_under_deny_through_the_proxy_that_holds_the_key()
    {
        await ProvideCodexImageAsync();
        await using var model = await ScriptedModelServer.StartAsync();
        model.Scenario(
            "swarm",
            ModelStep.Exec("env | grep -c 'sk-scripted-model-test-ke[y]'; echo proxy=$HTTPS_PROXY"),
            ModelStep.ApplyPatch("*** Begin Patch\n*** Add File: src/swarm.txt\n+written on the swarm\n*** End Patch"),
            ModelStep.Message("Added src/swarm.txt."));
        var fields = RealCodex.DenyConfigJson(model).Trim();
        await using var p = await SwarmPipeline.OpenAsync(swarm, fields[1..^1] + $", \"codex_config_overrides\": [{string.Join(", ", RealCodex.Offline.Select(o => System.Text.Json.JsonSerializer.Serialize(o)))}]");
        var environment = RealCodex.ServerEnvironment(model);
        foreach (var (name, value) in environment)
        {
            Environment.SetEnvironmentVariable(name, value);
        }

        RunResult run;
        try
        {
            run = await p.RunAsync(new RunRequest { RunId = "real", Tasks = [SwarmPipeline.Task("real", "Add a file.", ScriptedModelServer.Marker("swarm"))] });
        }
        finally
        {
            foreach (var name in environment.Keys)
            {
                Environment.SetEnvironmentVariable(name, null);
            }

        }

        var result = Assert.Single(run.Results);
        Assert.True(result.Status == TaskStatus.Success, $"{result.Status}: {result.NotesForManager}\n{result.Logs.Stderr}");
        Assert.Equal("Added src/swarm.txt.", result.Summary);
        Assert.Equal(["src/swarm.txt"], result.FilesChanged);
        Assert.Equal("written on the swarm\n", p.Repository.Git("show", $"{result.Branch}:src/swarm.txt"));
        var env = Assert.Single(result.CommandsRun).OutputTail;
        Assert.StartsWith("0\n", env, StringComparison.Ordinal);
        Assert.Contains("proxy=http://sandbox-proxy:3128", env, StringComparison.Ordinal);
        Assert.Equal("deny", result.Network!.Policy);
        Assert.Contains(result.Node, new[] { swarm.ManagerNodeName, swarm.WorkerNodeName });
        var requests = model.RequestsFor("swarm");
        Assert.Equal(3, requests.Count);
        Assert.All(requests, r => Assert.Equal($"Bearer {RealCodex.ApiKey}", r.Header("Authorization")));
    }

    /// <summary>
    /// The Codex image onto the manager (under its own name, as a runner's engine holds what it built: building it there
    /// would fetch Codex from npm) and, published, onto the worker, so the task's start is not a 700 MB pull.
    /// </summary>
    private async Task ProvideCodexImageAsync()
    {
        var inRegistry = $"{swarm.Registry}/{RealCodex.Image}";
        HostCommand.Run("docker", ["tag", RealCodex.Image, inRegistry], "tagging the Codex image for the test registry (run `bash .ci/setup`)");
        try
        {
            HostCommand.Run("docker", [.. swarm.LocalCliOptions, "push", inRegistry], "pushing the Codex image to the test registry");
        }
        finally
        {
            HostCommand.Run("docker", ["rmi", "--no-prune", inRegistry], "removing the test registry's tag of the Codex image");
        }

        HostCommand.Run("docker", [.. SwarmFixture.CliOptions(swarm.Manager), "pull", inRegistry], "pulling the Codex image onto the swarm manager");
        HostCommand.Run("docker", [.. SwarmFixture.CliOptions(swarm.Manager), "tag", inRegistry, RealCodex.Image], "tagging the Codex image on the swarm manager");
        var published = await ((SwarmImages)swarm.Backend.Images).PublishAsync(RealCodex.Image, CancellationToken.None);
        HostCommand.Run("docker", [.. SwarmFixture.CliOptions(swarm.Worker), "pull", published], "pulling the Codex image onto the swarm worker");
    }
}
