using SandboxRunner.IntegrationTests.Infrastructure;
using static SandboxRunner.IntegrationTests.Infrastructure.McpServerProcess;

namespace SandboxRunner.IntegrationTests;

/// <summary>default_concurrency is the limit of the whole server process, shared by every run, not a per-call one.</summary>
[Collection(DockerCollection.Name)]
public sealed class McpConcurrencyTests(DockerFixture docker)
{
    [Fact]
    public async Task Two_background_runs_together_never_run_more_containers_than_default_concurrency()
    {
        await using var s = await McpHarness.StartAsync(docker, """{ "default_concurrency": 1 }""");
        string[] runIds = [NewRunId("limit-a"), NewRunId("limit-b")];
        using var sampling = new CancellationTokenSource();
        var samples = new List<int>();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                samples.Add((await s.Containers.RunningTasksOfRunsAsync(runIds)).Count);
                await Task.Delay(50, CancellationToken.None);
            }
        }, CancellationToken.None);

        foreach (var runId in runIds)
        {
            await s.Server.CallOkAsync("start_codex_run", Run(runId, TaskArg("one", "@sleep 2", "@message one"), TaskArg("two", "@sleep 2", "@message two")));
        }

        var views = new[] { await s.Server.WaitForRunAsync(runIds[0], TimeSpan.FromSeconds(120)), await s.Server.WaitForRunAsync(runIds[1], TimeSpan.FromSeconds(120)) };
        await sampling.CancelAsync();
        await sampler;

        Assert.Contains(1, samples);
        Assert.True(samples.Max() <= 1, $"up to {samples.Max()} task containers ran at once; task container samples: {string.Join(",", samples)}");
        var results = views.SelectMany(v => v.GetProperty("tasks").EnumerateArray()).Select(t => t.GetProperty("result").GetProperty("status").GetString()).ToList();
        Assert.Equal(["success", "success", "success", "success"], results);
    }

    [Fact]
    public async Task A_runs_concurrency_argument_does_not_lift_the_process_wide_limit()
    {
        await using var s = await McpHarness.StartAsync(docker, """{ "default_concurrency": 1 }""");
        var runId = NewRunId("limit-c");
        using var sampling = new CancellationTokenSource();
        var samples = new List<int>();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                samples.Add((await s.Containers.RunningTasksOfRunsAsync([runId])).Count);
                await Task.Delay(50, CancellationToken.None);
            }
        }, CancellationToken.None);

        var args = Run(runId, TaskArg("one", "@sleep 2"), TaskArg("two", "@sleep 2"), TaskArg("three", "@sleep 2"));
        args["concurrency"] = 3;
        var run = await s.Server.CallOkAsync("run_codex_tasks", args);
        await sampling.CancelAsync();
        await sampler;

        Assert.True(samples.Max() <= 1, $"up to {samples.Max()} task containers ran at once; task container samples: {string.Join(",", samples)}");
        Assert.All(run.GetProperty("results").EnumerateArray(), r => Assert.Equal("success", r.GetProperty("status").GetString()));
    }
}
