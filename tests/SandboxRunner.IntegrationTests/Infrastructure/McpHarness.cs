using SandboxRunner.Platform;

namespace SandboxRunner.IntegrationTests.Infrastructure;

/// <summary>
/// A fresh test repository with <c>.mcp-codex.json</c>, and the built server started on it. Disposing it
/// stops the server, then proves no task container of any run the server made there is left.
/// </summary>
public sealed class McpHarness : IAsyncDisposable
{
    private readonly IDictionary<string, string?>? _environment;

    private McpHarness(TestRepository repository, SandboxContainers containers, IDictionary<string, string?>? environment)
    {
        Repository = repository;
        Containers = containers;
        _environment = environment;
    }

    public TestRepository Repository { get; }

    public SandboxContainers Containers { get; }

    public McpServerProcess Server { get; private set; } = null!;

    /// <param name="configOverrides">A JSON object merged into <see cref="McpServerProcess.BaseConfig"/>.</param>
    /// <param name="environment">Variables set (or, with a null value, removed) for the server process.</param>
    public static async Task<McpHarness> StartAsync(DockerFixture docker, string? configOverrides = null, IDictionary<string, string?>? environment = null)
    {
        var repository = new TestRepository();
        var containers = new SandboxContainers(docker);
        var session = new McpHarness(repository, containers, environment);
        try
        {
            McpServerProcess.WriteConfig(repository, configOverrides);
            session.Server = await McpServerProcess.StartAsync(repository.Path, environment);
            return session;
        }
        catch
        {
            containers.Dispose();
            repository.Dispose();
            throw;
        }
    }

    /// <summary>Waits until a task container of <paramref name="runId"/> is running.</summary>
    public async Task WaitForRunningTaskAsync(string runId)
    {
        Assert.True(
            await Poll.UntilAsync(async _ => (await Containers.RunningTasksOfRunsAsync([runId])).Count > 0, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(60), CancellationToken.None),
            "the task container never ran");
    }

    /// <summary>Stops the server and starts a new process on the same repository (what a client restart does).</summary>
    public async Task RestartAsync()
    {
        await Server.DisposeAsync();
        Server = await McpServerProcess.StartAsync(Repository.Path, _environment);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (Server is not null)
            {
                await Server.DisposeAsync();
            }

            await Containers.AssertNoneLeftAsync(Repository.Path);
        }
        finally
        {
            Containers.Dispose();
            Repository.Dispose();
        }
    }
}
