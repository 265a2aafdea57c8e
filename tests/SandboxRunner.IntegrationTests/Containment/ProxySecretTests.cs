using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Sandbox;

namespace SandboxRunner.IntegrationTests.Containment;

/// <summary>
/// Secrets are in no container's configuration (issue 21, breach 1): while a <c>deny</c> run with a ChatGPT
/// sign-in is held mid-task, someone holding the engine's API lists and inspects every container of the run
/// (environment, command, entrypoint, labels) and exports the proxy's filesystem, and finds neither the access
/// token nor the account id; the run keeps its result. (The API-key variant runs on the Docker-in-Docker
/// engine, where breach 1 was found: <see cref="RemoteEngineApiTests"/>.)
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class ProxySecretTests(DockerFixture docker)
{
    [Fact]
    public async Task A_signed_in_runs_token_and_account_id_are_in_no_container_configuration_or_exported_filesystem()
    {
        using var host = new ChatGptHost(DateTimeOffset.UtcNow.AddDays(5));
        await using var victim = await HeldDenyRun.StartSignedInAsync(docker, host.CodexHome);
        var (proxy, _, _) = await victim.ProxyAsync();
        using var holder = ApiHolder.For(docker.Engine);
        string[] secrets = [host.AccessToken, host.AccountId, host.RefreshToken, host.IdToken];

        var inConfiguration = await holder.LeaksInConfigurationAsync(LabelSelector.Of(Labels.Scope, victim.Harness.Scope), secrets);
        var inFilesystem = await holder.FilesystemHoldsAnyAsync(proxy, secrets);

        Assert.True(inConfiguration.Count == 0, string.Join("\n", inConfiguration));
        Assert.False(inFilesystem, "the proxy's exported filesystem holds a token or the account id");
        Assert.Equal("chatgpt", (await victim.FinishAsync()).Auth);
    }
}
