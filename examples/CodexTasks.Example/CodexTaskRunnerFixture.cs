using SandboxRunner.Testcontainers;

namespace CodexTasks.Example;

/// <summary>
/// One fixture repository and one started runner for the test class, as a Testcontainers container would be
/// shared: started before the first test, disposed (with everything its runs created) after the last.
/// </summary>
public sealed class CodexTaskRunnerFixture : IAsyncLifetime
{
    public FixtureRepository Repository { get; } = new();

    public CodexTaskRunner Runner { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Runner = new CodexTaskRunnerBuilder()
            .WithRepository(Repository.Path)
            .WithEnvironment("default")
            .WithScriptedModel()
            .Build();
        await Runner.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await Runner.DisposeAsync();
        Repository.Dispose();
    }
}
