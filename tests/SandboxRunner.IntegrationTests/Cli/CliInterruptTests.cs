using SandboxRunner.IntegrationTests.Infrastructure;
using static SandboxRunner.IntegrationTests.Infrastructure.McpServerProcess;

namespace SandboxRunner.IntegrationTests.Cli;

/// <summary>SIGINT to <c>run</c> (Ctrl-C, a CI runner cancelling the job): exit 130, work kept, nothing left running.</summary>
[Collection(CliCollection.Name)]
public sealed class CliInterruptTests(DockerFixture docker)
{
    [Fact]
    public async Task Sigint_exits_130_keeps_finished_work_marks_the_unfinished_task_cancelled_and_leaves_no_container_or_network()
    {
        await using var h = CliHarness.Create(docker, """{ "network_policy": "deny" }""");
        var runId = NewRunId("cli-sigint");
        var tasks = h.WriteTasks(Run(runId, TaskArg("quick", "@write src/quick.txt done\\n"), CliHarness.SleepingTask("slow", "src/partial.txt", "written before the interrupt")));
        await using var process = h.Start("run", tasks, "--concurrency", "2");
        await process.WaitForStderrAsync(l => l.EndsWith(" quick: success: 1 file(s) changed", StringComparison.Ordinal), TimeSpan.FromSeconds(90));
        await process.WaitForCommandAsync("slow", "echo wrote", TimeSpan.FromSeconds(60));

        await process.InterruptAsync();
        var run = await process.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.True(run.ExitCode == 130, run.ToString());
        var cancelled = h.Result(runId, "slow");
        Assert.Equal("cancelled", cancelled.GetProperty("status").GetString());
        Assert.Equal(["src/partial.txt"], cancelled.GetProperty("files_changed").EnumerateArray().Select(f => f.GetString()));
        Assert.Contains("+written before the interrupt", cancelled.GetProperty("patch").GetString(), StringComparison.Ordinal);
        Assert.Equal("success", h.Result(runId, "quick").GetProperty("status").GetString());
        Assert.Equal($"sandbox/{runId}/slow", h.Repository.Git("branch", "--list", $"sandbox/{runId}/slow", "--format=%(refname:short)").Trim());
        await h.AssertNothingLeftAsync();
    }
}
