using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Platform;
using static SandboxRunner.IntegrationTests.Infrastructure.McpServerProcess;

namespace SandboxRunner.IntegrationTests;

/// <summary>
/// A client that goes away (closes the server's stdin) while tasks run: the server must not leave their
/// containers running on the engine after it exits.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class McpShutdownTests(DockerFixture docker)
{
    private static readonly TimeSpan CleanupBudget = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Closing_the_connection_during_a_background_run_leaves_no_container_of_it()
    {
        await using var s = await McpHarness.StartAsync(docker);
        var runId = NewRunId("shutdown");
        await s.Server.CallOkAsync("start_codex_run", Run(runId, TaskArg("long", "@sleep 300")));
        await s.WaitForRunningTaskAsync(runId);

        await s.Server.DisposeAsync();

        await AssertGoneAsync(s, runId);
    }

    [Fact]
    public async Task Closing_the_connection_during_a_blocking_run_leaves_no_container_of_it()
    {
        await using var s = await McpHarness.StartAsync(docker);
        var runId = NewRunId("shutdown");
        var progress = new ProgressRecorder();
        var call = s.Server.Client.CallToolAsync("run_codex_tasks", Run(runId, TaskArg("long", "@sleep 300")), progress).AsTask();
        await s.WaitForRunningTaskAsync(runId);

        await s.Server.DisposeAsync();

        await Assert.ThrowsAnyAsync<Exception>(() => call);
        await AssertGoneAsync(s, runId);
    }

    private static async Task AssertGoneAsync(McpHarness s, string runId)
    {
        IReadOnlyList<string> left = [];
        await Poll.UntilAsync(async _ => (left = await s.Containers.OfRunsAsync([runId])).Count == 0, TimeSpan.FromMilliseconds(250), CleanupBudget, CancellationToken.None);

        Assert.True(left.Count == 0, $"{left.Count} container(s) of run {runId} still on the engine {CleanupBudget.TotalSeconds:F0} s after the server's client went away: {string.Join(", ", left)}");
    }
}
