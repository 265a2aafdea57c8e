using DotNet.Testcontainers.Builders;
using Microsoft.Extensions.Logging.Abstractions;
using SandboxRunner.Sandbox;

namespace SandboxRunner.IntegrationTests.Infrastructure;

/// <summary>
/// A real Docker engine and the fake Codex image, shared by every integration test. No engine means
/// failed tests, never skipped ones: CI must not go green on a machine that tested nothing.
/// </summary>
public sealed class DockerFixture : IAsyncLifetime
{
    public const string FakeCodexImage = "sandbox-runner/fake-codex:dev";

    public DockerEngine Engine { get; } = new(NullLogger<DockerEngine>.Instance);

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

        // Built through Testcontainers from images/fake-codex; the layer cache makes this quick when unchanged.
        var image = new ImageFromDockerfileBuilder()
            .WithDockerfileDirectory(Path.Combine(RepoRoot.Path, "images", "fake-codex"))
            .WithDockerfile("Dockerfile")
            .WithName(FakeCodexImage)
            .WithCleanUp(false)
            .WithDeleteIfExists(false)
            .Build();
        await image.CreateAsync();
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
