using System.Diagnostics;
using SandboxRunner.Configuration;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Runs;
using Xunit.Abstractions;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.IntegrationTests;

/// <summary>Many tasks through the real engine: every one ends with a result, nothing is left, memory stays flat.</summary>
[Collection(DockerCollection.Name)]
public sealed class SoakTests(DockerFixture docker, ITestOutputHelper output)
{
    [Fact]
    public async Task Two_hundred_mixed_tasks_at_concurrency_8_leave_nothing_behind_and_memory_flat()
    {
        await using var h = await RunnerHarness.CreateAsync(docker, c => c with { DefaultConcurrency = 8, MaxTasksPerRun = 50 });
        var memory = new List<long>();
        var statuses = new Dictionary<TaskStatus, int>();
        var started = Stopwatch.GetTimestamp();
        for (var round = 0; round < 2; round++)
        {
            using var cancel = new CancellationTokenSource();
            var runs = Enumerable.Range(0, 2).Select(r => h.RunAsync(new RunRequest
            {
                Concurrency = 8,
                Tasks = Enumerable.Range(0, 50).Select(i => Task(round, r, i)).ToList(),
            }, r == 1 && round == 1 ? cancel.Token : CancellationToken.None)).ToList();

            // The second run of the second round is cancelled part-way: its tasks end cancelled, queued ones too.
            if (round == 1)
            {
                await System.Threading.Tasks.Task.Delay(4000);
                await cancel.CancelAsync();
            }

            foreach (var run in runs)
            {
                RunResult result;
                try
                {
                    result = await run;
                }
                catch (OperationCanceledException)
                {
                    continue;
                }

                Assert.Equal(50, result.Results.Count);
                foreach (var r in result.Results)
                {
                    statuses[r.Status] = statuses.GetValueOrDefault(r.Status) + 1;
                }
            }

            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            memory.Add(GC.GetTotalMemory(forceFullCollection: true));
            await h.AssertNothingLeftAsync();
        }

        foreach (var run in await h.Runner.ListRunsAsync(CancellationToken.None))
        {
            var view = await h.Runner.GetRunAsync(run.RunId, CancellationToken.None);
            Assert.All(view!.Tasks, t => Assert.NotNull(t.Result));
        }

        Assert.Empty(ChildProcesses());
        output.WriteLine($"200 tasks in {Stopwatch.GetElapsedTime(started).TotalSeconds:F0} s; statuses {string.Join(", ", statuses.Select(kv => $"{kv.Key}={kv.Value}"))}; managed heap after each round: {string.Join(" / ", memory.Select(m => $"{m / (1024 * 1024)} MiB"))}");
        Assert.True(statuses.GetValueOrDefault(TaskStatus.Success) > 0 && statuses.GetValueOrDefault(TaskStatus.Failed) > 0);
        Assert.True(memory[1] < memory[0] + 64L * 1024 * 1024, $"managed heap grew from {memory[0]} to {memory[1]} bytes");
    }

    /// <summary>
    /// Processes of the tools the runner starts (git, rm, chmod, ...) that are still there. Only those
    /// names count: other collections run in parallel and start their own children (the CLI as dotnet).
    /// </summary>
    private static List<string> ChildProcesses()
    {
        string[] runnerTools = ["git", "setpriv", "chown", "chmod", "rm", "find", "npm", "tar"];
        var children = new List<string>();
        foreach (var stat in Directory.EnumerateDirectories("/proc").Select(d => Path.Combine(d, "stat")))
        {
            try
            {
                var text = File.ReadAllText(stat);
                var close = text.LastIndexOf(')');
                var fields = text[(close + 2)..].Split(' ');
                var name = text[(text.IndexOf('(') + 1)..close];
                if (int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture) == Environment.ProcessId && runnerTools.Contains(name))
                {
                    children.Add(text[..close]);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or ArgumentOutOfRangeException)
            {
            }
        }

        return children;
    }

    /// <summary>Mostly quick successes, some failures, a few timeouts.</summary>
    private static TaskRequest Task(int round, int run, int i) => (i % 10) switch
    {
        7 => RunnerHarness.Task($"t{i}", "@write src/f.txt x\\n", "@fail on purpose"),
        8 when round == 0 && run == 0 && i < 20 => RunnerHarness.Task($"t{i}", "@sleep 30") with { TimeoutSec = 10 },
        _ => RunnerHarness.Task($"t{i}", $"@write src/r{round}-{run}-{i}.txt x\\n", "@message ok"),
    };
}
