using SandboxRunner.IntegrationTests.Infrastructure;
using static SandboxRunner.IntegrationTests.Infrastructure.McpServerProcess;

namespace SandboxRunner.IntegrationTests.Cli;

/// <summary><c>cancel RUN</c> from a second process stops a run that another <c>run</c> process owns.</summary>
[Collection(CliCollection.Name)]
public sealed class CliCancelTests(DockerFixture docker)
{
    [Fact]
    public async Task Cancel_from_a_second_process_stops_the_run_which_exits_1_with_its_reports_and_leaves_nothing_running()
    {
        await using var h = CliHarness.Create(docker, """{ "network_policy": "deny" }""");
        var runId = NewRunId("cli-cancel");
        var tasks = h.WriteTasks(Run(runId, CliHarness.SleepingTask("sleeper", "src/started.txt", "started")));
        var junit = h.FileIn("junit.xml");
        await using var owner = h.Start("run", tasks, "--junit", junit);
        await owner.WaitForCommandAsync("sleeper", "echo wrote", TimeSpan.FromSeconds(90));

        var cancel = await h.RunAsync("cancel", runId);
        var run = await owner.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.True(cancel.ExitCode == 0, cancel.ToString());
        Assert.Contains($"run '{runId}' cancelled by its owner", cancel.Stdout, StringComparison.Ordinal);
        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Contains("cancelled by another process", run.Stderr, StringComparison.Ordinal);
        Assert.Equal("cancelled", h.Result(runId, "sleeper").GetProperty("status").GetString());
        var failure = CliJunitReportTests.Validated(junit).Descendants("failure").Single();
        Assert.Equal("cancelled", (string?)failure.Attribute("type"));
        Assert.Empty(await h.Containers.RunningTasksOfRunsAsync([runId]));
        await h.AssertNothingLeftAsync();
    }
}
