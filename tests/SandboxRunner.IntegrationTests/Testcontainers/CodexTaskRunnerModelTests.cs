using SandboxRunner.Configuration;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Testcontainers;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.IntegrationTests.Testcontainers;

/// <summary>
/// <c>WithModelKey</c>: the real Codex CLI 0.169, here against the scripted Responses API server on this machine.
/// The key given to the builder is what the model API gets, through the <c>deny</c> proxy, never inside the box.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class CodexTaskRunnerModelTests(DockerFixture docker)
{
    [Fact]
    public async Task With_a_model_key_the_real_codex_runs_and_the_model_api_gets_that_key_through_the_proxy_only()
    {
        _ = docker; // The collection fixture has checked the engine; the runner opens its own.
        await using var model = await ScriptedModelServer.StartAsync();
        model.Scenario(
            "module-key",
            ModelStep.Exec("env | grep -c 'sk-module-test-ke[y]'"),
            ModelStep.Message("Looked."));
        using var repository = new TestRepository();
        await using var runner = new CodexTaskRunnerBuilder()
            .WithRepository(repository.Path)
            .WithModelKey("sk-module-test-key")
            .WithNetworkPolicy(NetworkPolicy.Deny)
            .WithAllowedCommands()
            .WithConfig(c => RealCodex.Configure(c, model) with
            {
                NetworkPolicy = NetworkPolicy.Deny,
                ModelBaseUrl = model.BaseUrlFor(RealCodex.Gateway),
                ModelApiKeyEnv = RealCodex.ApiKeyVariable,
                NetworkAllowlist = [],
            })
            .Build();
        await runner.StartAsync();

        var result = await runner.RunAsync(new CodexTask("look", "Look at the environment. " + ScriptedModelServer.Marker("module-key")));

        Assert.True(result.Status == TaskStatus.Success, $"{result.Status}: {result.NotesForManager}\n{result.Logs.Stderr}");
        Assert.Equal("Looked.", result.Summary);
        Assert.StartsWith("0\n", Assert.Single(result.CommandsRun).OutputTail, StringComparison.Ordinal);
        var requests = model.RequestsFor("module-key");
        Assert.Equal(2, requests.Count);
        Assert.All(requests, r => Assert.Equal("Bearer sk-module-test-key", r.Header("Authorization")));
    }
}
