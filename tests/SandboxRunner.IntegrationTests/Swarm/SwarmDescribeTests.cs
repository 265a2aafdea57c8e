using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;
using SandboxRunner.Boxes.Swarm;
using SandboxRunner.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace SandboxRunner.IntegrationTests.Swarm;

/// <summary>What the doctor sees of a swarm, and what a box costs there (written to the test output, never asserted on).</summary>
[Collection(SwarmCollection.Name)]
public sealed class SwarmDescribeTests(SwarmFixture swarm, ITestOutputHelper output)
{
    [Fact]
    public async Task The_swarm_lists_both_nodes_ready_with_their_free_places_and_engine()
    {
        await using var backend = swarm.BackendWith(new SwarmOptions(MaxTasksPerNode: 4));

        var facts = await backend.DescribeAsync(CancellationToken.None);

        output.WriteLine($"swarm fixture start: {swarm.StartTime.TotalSeconds:F1} s (TLS certificates: {swarm.CertificateTime.TotalMilliseconds:F0} ms)");
        Assert.Equal(new[] { swarm.ManagerNodeName, swarm.WorkerNodeName }.Order(StringComparer.Ordinal), facts.Nodes.Select(n => n.Name).Order(StringComparer.Ordinal));
        Assert.All(facts.Nodes, n => Assert.StartsWith("ready, active, 4 of 4 task places free", n.State, StringComparison.Ordinal));
        Assert.Contains(facts.Nodes, n => n.Name == swarm.WorkerNodeName && n.State.Contains(swarm.Worker.Endpoint.ToString(), StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_no_op_box_runs_on_the_swarm_and_on_the_local_engine_and_what_each_costs_is_written_out()
    {
        await using var local = new DockerBackend(NullLogger.Instance, EngineConnection.FromProcess());
        var scope = new BoxScope("swarm-cost-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            foreach (var (name, backend) in new (string, ITaskBackend)[] { ("local", local), ("swarm", swarm.Backend) })
            {
                var times = new List<double>();
                for (var i = 0; i < 4; i++)
                {
                    var clock = Stopwatch.StartNew();
                    await using var site = await backend.OpenRunSiteAsync(new RunSiteSpec(scope, "run-1", NetworkIntent.Open), CancellationToken.None);
                    await using (var box = await site.CreateBoxAsync(new BoxSpec
                    {
                        Image = DockerFixture.FakeCodexImage,
                        Entrypoint = [],
                        Command = ["true"],
                        User = "65534:65534",
                        WorkingDirectory = "/",
                        Environment = new Dictionary<string, string>(),
                        Limits = new ResourceLimits(128L * 1024 * 1024, 0.5, 64, 8L * 1024 * 1024),
                        Identity = new BoxIdentity("cost"),
                    }, CancellationToken.None))
                    {
                        var exit = await box.RunAsync(TimeSpan.FromMinutes(1), (_, _) => { }, null, CancellationToken.None, CancellationToken.None);
                        Assert.Equal(0, exit.ExitCode);
                    }

                    times.Add(clock.Elapsed.TotalMilliseconds);
                }

                output.WriteLine($"{name}: create+run+remove of a no-op box: {string.Join(", ", times.Select(t => $"{t:F0} ms"))}");
            }
        }
        finally
        {
            await local.RemoveRunAsync(scope, "run-1", CancellationToken.None);
            await swarm.Backend.RemoveRunAsync(scope, "run-1", CancellationToken.None);
        }
    }
}
