using DotNet.Testcontainers.Builders;
using Microsoft.Extensions.Logging.Abstractions;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;

namespace SandboxRunner.IntegrationTests.Infrastructure;

/// <summary>
/// A real Docker engine and the fake Codex image, shared by every integration test. No engine means
/// failed tests, never skipped ones: CI must not go green on a machine that tested nothing.
/// </summary>
public sealed class DockerFixture : IAsyncLifetime, IEngineUnderTest
{
    public const string FakeCodexImage = "sandbox-runner/fake-codex:dev";

    internal DockerEngine Engine { get; } = new(NullLogger<DockerEngine>.Instance);

    DockerEngine IEngineUnderTest.Engine => Engine;

    public string ApiVersion { get; private set; } = "";

    public async Task InitializeAsync()
    {
        try
        {
            (_, ApiVersion) = await Engine.PingAsync(CancellationToken.None);
        }
        catch (Exception e)
        {
            throw new InvalidOperationException(
                $"Docker is not reachable at {Engine.Endpoint} ({e.Message}). Run `bash .ci/setup` to install and start it.", e);
        }

        // Built through Testcontainers from images/; the layer cache makes this quick when unchanged.
        await BuildAsync("fake-codex", FakeCodexImage);
    }

    private static async Task BuildAsync(string folder, string name)
    {
        var image = new ImageFromDockerfileBuilder()
            .WithDockerfileDirectory(Path.Combine(RepoRoot.Path, "images", folder))
            .WithDockerfile("Dockerfile")
            .WithName(name)
            .WithCleanUp(false)
            .WithDeleteIfExists(false)
            .Build();
        await image.CreateAsync();
    }

    public Task<RunnerHarness> HarnessAsync(Func<Configuration.RunnerConfig, Configuration.RunnerConfig>? configure = null, Func<string, string?>? hostEnvironment = null) =>
        RunnerHarness.CreateAsync(this, configure, hostEnvironment);

    /// <summary>The host's address on Docker's default bridge (docker0), where containers reach servers the tests start.</summary>
    public async Task<string> HostGatewayAsync()
    {
        using var client = new Docker.DotNet.DockerClientBuilder().WithEndpoint(Engine.Endpoint).Build();
        return await HostBridge.GatewayAsync(client);
    }

    public Task DisposeAsync()
    {
        Engine.Dispose();
        return Task.CompletedTask;
    }
}

[CollectionDefinition(Name)]
public sealed class DockerCollection : ICollectionFixture<DockerFixture>
{
    public const string Name = "docker";
}

public static class RepoRoot
{
    public static string Path { get; } = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "SandboxRunner.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("SandboxRunner.sln not found above the test assembly.");
    }
}
