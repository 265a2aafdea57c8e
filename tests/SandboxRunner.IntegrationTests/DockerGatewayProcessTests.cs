using System.Diagnostics;
using System.Globalization;
using Docker.DotNet;
using Docker.DotNet.Models;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;
using SandboxRunner.IntegrationTests.Cli;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Platform;
using static SandboxRunner.IntegrationTests.Infrastructure.McpServerProcess;

namespace SandboxRunner.IntegrationTests;

/// <summary>
/// The deny gateways a process makes (its runs' and the spare it holds for a next run) go with the process: a command
/// line or a server that ends removes them before it exits (a process of one deny run makes no spare), and what a killed server held is removed by the next
/// server's sweep. Judged by the engine's own record: every gateway container the process created was destroyed.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class DockerGatewayProcessTests(DockerFixture docker)
{
    [Fact]
    public async Task A_command_line_run_in_deny_makes_no_spare_and_removes_its_gateway_before_it_exits()
    {
        await using var h = CliHarness.Create(docker, """{ "network_policy": "deny" }""");
        var since = DateTimeOffset.UtcNow.AddSeconds(-1);
        var tasks = h.WriteTasks(Run(NewRunId("cli-gw"), TaskArg("t", "@write src/a.txt a\\n")));

        await using var process = h.Start("run", tasks);
        var result = await process.WaitAsync(TimeSpan.FromSeconds(120));

        Assert.True(result.ExitCode == 0, result.ToString());

        // One run: its own gateway, and no spare that only its exit would remove.
        Assert.Equal(1, await AssertMadeAndAllRemovedAsync(OwnerOf(process.Id), since));
    }

    [Fact]
    public async Task A_server_that_ends_removes_its_runs_gateways_and_its_spare_before_it_exits()
    {
        await using var s = await McpHarness.StartAsync(docker, """{ "network_policy": "deny" }""");
        var since = DateTimeOffset.UtcNow.AddSeconds(-1);
        var owner = OwnerOf(ServerPidOf(s.Repository.Path));
        await TwoDenyRunsAsync(s, "mcp-gw");
        Assert.NotEmpty(await GatewayContainersAsync(owner));

        await s.Server.DisposeAsync();

        // Each run's gateway, and the spare the second run started for a third.
        Assert.True(await AssertMadeAndAllRemovedAsync(owner, since) >= 3);
    }

    [Fact]
    public async Task The_spare_of_a_killed_server_is_removed_by_the_next_server_on_the_repository()
    {
        await using var s = await McpHarness.StartAsync(docker, """{ "network_policy": "deny" }""");
        var pid = ServerPidOf(s.Repository.Path);
        var owner = OwnerOf(pid);
        await TwoDenyRunsAsync(s, "killed-gw");
        Assert.True(
            await Poll.UntilAsync(async _ => (await GatewayContainersAsync(owner)).Count > 0, TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(60), CancellationToken.None),
            "the server held no spare gateway after its deny run");

        using (var server = Process.GetProcessById(pid))
        {
            server.Kill();
            await server.WaitForExitAsync();
        }

        Assert.NotEmpty(await GatewayContainersAsync(owner));
        await s.RestartAsync();

        var swept = await Poll.UntilAsync(
            async _ => (await GatewayContainersAsync(owner)).Count == 0 && (await GatewayNetworksAsync(owner)).Count == 0,
            TimeSpan.FromMilliseconds(500), TimeSpan.FromMinutes(2), CancellationToken.None);
        Assert.True(swept, $"left by the killed server: {string.Join(", ", await GatewayContainersAsync(owner))} {string.Join(", ", await GatewayNetworksAsync(owner))}");
    }

    /// <summary>Two runs one after the other: the second starts the server's first spare.</summary>
    private static async Task TwoDenyRunsAsync(McpHarness s, string prefix)
    {
        foreach (var run in new[] { "1", "2" })
        {
            var result = await s.Server.CallOkAsync("run_codex_tasks", Run(NewRunId(prefix + run), TaskArg("t", "@write src/a.txt a\\n")));
            Assert.Equal("success", result.GetProperty("results")[0].GetProperty("status").GetString());
        }
    }

    private static string OwnerOf(int pid) => $"{Environment.MachineName}/{pid}";

    /// <summary>The server process started on <paramref name="repoPath"/> (its command line names the repository).</summary>
    private static int ServerPidOf(string repoPath)
    {
        var pids = Directory.EnumerateDirectories("/proc")
            .Select(d => int.TryParse(Path.GetFileName(d), out var pid) ? pid : 0)
            .Where(pid => pid > 0 && CommandLine(pid) is { } line && line.Contains("sandbox-runner", StringComparison.Ordinal) && line.Contains(repoPath, StringComparison.Ordinal))
            .ToList();
        return Assert.Single(pids);
    }

    private static string? CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static Dictionary<string, IDictionary<string, bool>> OwnedGateways(string owner) =>
        new() { ["label"] = new Dictionary<string, bool> { [DockerEgress.GatewayLabel] = true, [$"{Labels.Owner}={owner}"] = true } };

    private async Task<IReadOnlyList<string>> GatewayContainersAsync(string owner)
    {
        using var client = docker.Engine.Connection.CreateClient();
        return (await client.Containers.ListContainersAsync(new ContainersListParameters { All = true, Filters = OwnedGateways(owner) })).Select(c => c.ID[..12]).ToList();
    }

    private async Task<IReadOnlyList<string>> GatewayNetworksAsync(string owner)
    {
        using var client = docker.Engine.Connection.CreateClient();
        return (await client.Networks.ListNetworksAsync(new NetworksListParameters { Filters = OwnedGateways(owner) })).Select(n => n.Name).ToList();
    }

    /// <summary>
    /// The engine's events since <paramref name="since"/>: <paramref name="owner"/> created gateway containers (its run's
    /// and a spare), and destroyed every one; none of them, and none of its gateway networks, is left. Returns how many
    /// proxies it made.
    /// </summary>
    private async Task<int> AssertMadeAndAllRemovedAsync(string owner, DateTimeOffset since)
    {
        using var client = docker.Engine.Connection.CreateClient();
        var events = new EventList();
        var filters = OwnedGateways(owner);
        filters["type"] = new Dictionary<string, bool> { ["container"] = true };
        await client.System.MonitorEventsAsync(
            new ContainerEventsParameters
            {
                Since = since.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture),
                Until = DateTimeOffset.UtcNow.AddSeconds(1).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture),
                Filters = filters,
            },
            events,
            CancellationToken.None);
        var created = events.Messages.Where(m => m.Action == "create").Select(m => m.Actor.ID).ToHashSet(StringComparer.Ordinal);
        var destroyed = events.Messages.Where(m => m.Action == "destroy").Select(m => m.Actor.ID).ToHashSet(StringComparer.Ordinal);
        var proxies = events.Messages.Where(m => m.Action == "create" && m.Actor.Attributes.TryGetValue(Labels.Role, out var role) && role == DockerEgress.ProxyRole).Count();

        Assert.NotEmpty(created);
        Assert.Empty(created.Except(destroyed));
        Assert.Empty(await GatewayContainersAsync(owner));
        Assert.Empty(await GatewayNetworksAsync(owner));
        return proxies;
    }

    /// <summary>Collects the events as the client reads them.</summary>
    private sealed class EventList : IProgress<Message>
    {
        public List<Message> Messages { get; } = [];

        public void Report(Message value) => Messages.Add(value);
    }
}
