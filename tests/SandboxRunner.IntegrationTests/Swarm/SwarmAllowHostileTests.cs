using SandboxRunner.Runs;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.IntegrationTests.Swarm;

/// <summary>
/// A hostile agent under <c>network_policy: allow</c> on the TLS swarm, on each node: it finds its node's engine at its
/// bridge's gateway and both nodes' engines at their addresses on this machine's bridge, and tries each without a
/// client certificate (plain HTTP on the conventional plain port and on the TLS port, an anonymous TLS handshake on the
/// TLS port), and the Docker socket in its own filesystem. No engine gives it an API answer.
/// </summary>
[Collection(SwarmCollection.Name)]
public sealed class SwarmAllowHostileTests(SwarmFixture swarm)
{
    /// <summary>
    /// Three lines for one host ("gateway": its own bridge's gateway, the node engine's side of that bridge): "plain
    /// HOST:PORT …" for 2375 and 2376, "tls HOST:2376 …", each with the start of what came back, or "no answer".
    /// </summary>
    private const string Probe = """
        #!/bin/bash
        host=$1
        if [ "$host" = gateway ]; then
          # The default route's gateway, little-endian hex in /proc/net/route.
          gw=$(awk '$2=="00000000"{print $3; exit}' /proc/net/route)
          host=$(printf '%d.%d.%d.%d' 0x${gw:6:2} 0x${gw:4:2} 0x${gw:2:2} 0x${gw:0:2})
        fi
        for port in 2375 2376; do
          out=$(timeout 5 bash -c "exec 3<>/dev/tcp/$host/$port && printf 'GET /_ping HTTP/1.0\r\n\r\n' >&3 && cat <&3" 2>/dev/null | head -c 200 | tr '\r\n' '  ')
          echo "plain $host:$port ${out:-no answer}"
        done
        # An anonymous TLS client: how the handshake ended (an alert), or any HTTP answer it got.
        out=$(printf 'GET /_ping HTTP/1.0\r\n\r\n' | timeout 5 openssl s_client -connect "$host:2376" -quiet 2>&1 | grep -aiE 'alert|HTTP/|Api-Version' | head -c 300 | tr '\r\n' '  ')
        echo "tls $host:2376 ${out:-no answer}"
        """;

    [Fact]
    public async Task An_allow_task_on_either_node_gets_no_api_answer_from_any_engine_of_the_swarm_without_a_client_certificate()
    {
        // A cap of one per node puts the two tasks on different nodes.
        await using var p = await SwarmPipeline.OpenAsync(swarm, "\"network_policy\": \"allow\", \"max_tasks_per_node\": 1, \"default_concurrency\": 2");
        p.Repository.Write("probe.sh", Probe.Replace("\r\n", "\n", StringComparison.Ordinal) + "\n");
        p.Repository.Git("add", "-A");
        p.Repository.Git("commit", "-qm", "probe");
        // One command per host: each command's output tail in the result is bounded.
        var steps = swarm.NodeAddresses.Prepend("gateway").Select(host => $"@run 0 bash probe.sh {host}")
            .Append("@run * ls /var/run/docker.sock /run/docker.sock 2>&1").Append("@sleep 4").ToArray();

        var run = await p.RunAsync(new RunRequest { RunId = "hostile-allow", Concurrency = 2, Tasks = [SwarmPipeline.Task("a", steps), SwarmPipeline.Task("b", steps)] });

        Assert.Equal(new[] { swarm.ManagerNodeName, swarm.WorkerNodeName }.Order(StringComparer.Ordinal), run.Results.Select(r => r.Node!).Order(StringComparer.Ordinal));
        foreach (var result in run.Results)
        {
            Assert.True(result.Status == TaskStatus.Success, $"{result.TaskId}: {result.Status}: {result.NotesForManager}");
            var seen = string.Join("\n", result.CommandsRun.Take(3).Select(c => c.OutputTail));
            var lines = seen.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.DoesNotContain("Api-Version", seen, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("200 OK", seen, StringComparison.Ordinal);
            Assert.Equal(9, lines.Length);
            foreach (var host in lines.Select(l => l.Split(' ')[1].Split(':')[0]).Distinct())
            {
                // No plain port at all; the TLS port is there (it tells a plain client to use TLS) and refuses an anonymous one.
                Assert.Contains($"plain {host}:2375 no answer", lines);
                Assert.Contains(lines, l => l.StartsWith($"plain {host}:2376 ", StringComparison.Ordinal) && l.Contains("HTTP request to an HTTPS server", StringComparison.Ordinal));
                Assert.Contains(lines, l => l.StartsWith($"tls {host}:2376 ", StringComparison.Ordinal) && l.Contains("alert", StringComparison.Ordinal));
            }

            Assert.Contains("No such file", result.CommandsRun[3].OutputTail, StringComparison.Ordinal);
        }
    }
}
