using System.Text;
using Docker.DotNet;
using Docker.DotNet.Models;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;
using SandboxRunner.IntegrationTests.Infrastructure;

namespace SandboxRunner.IntegrationTests.Contracts;

/// <summary>
/// The Docker backend's egress gateways (network, proxy, holder) made ahead of the run that takes them: each goes to
/// one run only and holds nothing of another; a closed site's gateway is removed after the close, with force; what a
/// dead process left is swept.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class DockerGatewayTests(DockerFixture docker) : IAsyncLifetime
{
    private const string KeyA = "sk-run-a-0123456789abcdef";
    private const string KeyB = "sk-run-b-fedcba9876543210";
    private readonly BoxScope _scope = new("gateway-" + Guid.NewGuid().ToString("N")[..10]);
    private readonly List<IRunSite> _sites = [];
    private string _proxyImage = "";

    private DockerBackend Backend => docker.Engine.Backend;

    public async Task InitializeAsync()
    {
        var recipe = ImageRecipe.EgressProxy();
        if (!await Backend.Images.ExistsAsync(recipe.Tag, CancellationToken.None))
        {
            await Backend.Images.BuildAsync(recipe, CancellationToken.None);
        }

        _proxyImage = recipe.Tag;
    }

    public async Task DisposeAsync()
    {
        foreach (var site in _sites)
        {
            await site.DisposeAsync();
        }

        await Backend.SettledAsync(CancellationToken.None);
    }

    private async Task<(IRunSite Site, DockerEgress Gateway)> OpenAsync(string runId, string allowed, string key)
    {
        var site = await Backend.OpenRunSiteAsync(
            new RunSiteSpec(_scope, runId, NetworkIntent.Allowlist, new EgressSpec(_proxyImage, [allowed], new ModelRoute("https://api.example.test/v1", key))),
            CancellationToken.None);
        _sites.Add(site);
        return (site, Assert.Single(Backend.Gateways.Of(_scope, runId)));
    }

    private static BoxSpec Probe(string script) => new()
    {
        Image = DockerFixture.FakeCodexImage,
        Entrypoint = [],
        Command = ["bash", "-c", script],
        User = "65534:65534",
        WorkingDirectory = "/",
        Environment = new Dictionary<string, string>(),
        Limits = new ResourceLimits(256L * 1024 * 1024, 0.5, 64, 16L * 1024 * 1024),
        Identity = new BoxIdentity("probe"),
    };

    private static async Task<string> RunAsync(IRunSite site, string script)
    {
        await using var box = await site.CreateBoxAsync(Probe(script), CancellationToken.None);
        var output = new StringBuilder();
        await box.RunAsync(TimeSpan.FromMinutes(2), (_, chunk) => output.Append(Encoding.UTF8.GetString(chunk)), null, CancellationToken.None, CancellationToken.None);
        return output.ToString();
    }

    private static string ViaProxy(string host) =>
        $"exec 3<>/dev/tcp/sandbox-proxy/3128 && printf 'GET http://{host}/ HTTP/1.0\\r\\n\\r\\n' >&3 && head -1 <&3";

    /// <summary>A file of the proxy, read by exec (the nginx config is on a tmpfs, which the archive API does not see).</summary>
    private async Task<string> ProxyFileAsync(DockerEgress gateway, string path)
    {
        var output = new StringBuilder();
        await Backend.Exec.ExecAsync(gateway.ProxyId!, new BoxCommand(["cat", path], "0:0", "/"), (_, chunk) => output.Append(Encoding.UTF8.GetString(chunk)), CancellationToken.None);
        return output.ToString();
    }

    [Fact]
    public async Task A_run_on_a_gateway_made_ahead_of_it_sees_nothing_of_the_run_before_it_and_cannot_reach_its_proxy()
    {
        // A backend makes spares once it has served a second deny site (one run alone never needs one).
        await (await OpenAsync("run-first", "first.example.test", KeyA)).Site.DisposeAsync();
        var (siteA, a) = await OpenAsync("run-a", "a-allowed.example.test", KeyA);
        Assert.Contains("403", await RunAsync(siteA, ViaProxy("a-refused.example.test")), StringComparison.Ordinal);
        using var client = docker.Engine.Connection.CreateClient();
        var aBridge = (await client.Containers.InspectContainerAsync(a.ProxyId!)).NetworkSettings!.Networks["bridge"].IPAddress;
        var spare = Assert.Single(await Backend.Gateways.SparesAsync());

        // A's task cannot touch the gateway the next run will take: neither the spare's internal address nor its bridge one answers.
        var spareBridge = (await client.Containers.InspectContainerAsync(spare.ProxyId!)).NetworkSettings!.Networks["bridge"].IPAddress;
        var early = await RunAsync(siteA, Reach(spare.ProxyAddress, spareBridge));
        Assert.DoesNotContain("reached", early, StringComparison.Ordinal);
        Assert.Equal(4, early.Split('\n').Count(l => l.StartsWith("refused ", StringComparison.Ordinal)));

        var (siteB, b) = await OpenAsync("run-b", "b-allowed.example.test", KeyB);

        // B took the gateway the backend made while A ran, before B asked for one.
        Assert.Equal(spare.Id, b.Id);
        var proxyB = await client.Containers.InspectContainerAsync(b.ProxyId!);
        Assert.NotEqual(a.Id, b.Id);
        Assert.NotEqual(a.ProxyId, b.ProxyId);
        Assert.NotEqual(a.NetworkName, b.NetworkName);
        var reach = await RunAsync(siteB, Reach(a.ProxyAddress, aBridge));
        Assert.DoesNotContain("reached", reach, StringComparison.Ordinal);
        Assert.Equal(4, reach.Split('\n').Count(l => l.StartsWith("refused ", StringComparison.Ordinal)));

        var log = await ProxyFileAsync(b, ProxyProtocol.AccessLog);
        var squid = await ProxyFileAsync(b, "/run/sandbox-proxy/squid.conf");
        var nginx = await ProxyFileAsync(b, "/tmp/sandbox-proxy/nginx.conf");
        Assert.DoesNotContain("a-refused.example.test", log, StringComparison.Ordinal);
        Assert.Contains("b-allowed.example.test", squid, StringComparison.Ordinal);
        Assert.DoesNotContain("a-allowed.example.test", squid, StringComparison.Ordinal);
        Assert.Contains(KeyB, nginx, StringComparison.Ordinal);
        Assert.DoesNotContain(KeyA, nginx, StringComparison.Ordinal);

        // Nothing of either run is where an engine-API holder reads a container's configuration.
        var configuration = string.Join('\n', (proxyB.Config!.Env ?? []).Concat(proxyB.Config.Cmd ?? []).Concat(proxyB.Config.Entrypoint ?? [])
            .Concat((proxyB.Config.Labels ?? new Dictionary<string, string>()).Select(kv => $"{kv.Key}={kv.Value}")));
        foreach (var secret in new[] { KeyA, KeyB, "a-allowed", "b-allowed", "run-a", "run-b" })
        {
            Assert.DoesNotContain(secret, configuration, StringComparison.Ordinal);
        }

        // Nothing is recycled: once A is closed, its gateway (which A's tasks used) is never handed to a run again.
        await siteA.DisposeAsync();
        var (_, c) = await OpenAsync("run-c", "c-allowed.example.test", KeyB);
        Assert.DoesNotContain(c.Id, new[] { a.Id, b.Id });
        Assert.DoesNotContain(await Backend.Gateways.SparesAsync(), g => g.Id == a.Id);
    }

    /// <summary>A script that tries both proxy ports on both addresses of a proxy and prints "reached" or "refused" for each.</summary>
    private static string Reach(string internalAddress, string bridgeAddress) => $"""
        for target in {internalAddress}/3128 {internalAddress}/8080 {bridgeAddress}/3128 {bridgeAddress}/8080; do
          if (exec 3<>/dev/tcp/$target) 2>/dev/null; then echo "reached $target"; else echo "refused $target"; fi
        done
        """;

    [Fact]
    public async Task Closing_a_deny_site_removes_its_gateway_afterwards_with_force_and_never_a_graceful_stop()
    {
        var (site, gateway) = await OpenAsync("run-close", "allowed.example.test", KeyA);
        Assert.Contains("403", await RunAsync(site, ViaProxy("refused.example.test")), StringComparison.Ordinal);
        using var client = docker.Engine.Connection.CreateClient();
        var since = DateTimeOffset.UtcNow.AddSeconds(-1);

        await site.DisposeAsync();
        await Backend.SettledAsync(CancellationToken.None);

        await Assert.ThrowsAsync<DockerContainerNotFoundException>(() => client.Containers.InspectContainerAsync(gateway.ProxyId!));
        Assert.DoesNotContain(await client.Networks.ListNetworksAsync(), n => n.Name == gateway.NetworkName);
        var events = new EventList();
        await client.System.MonitorEventsAsync(
            new ContainerEventsParameters
            {
                Since = since.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture),
                Until = DateTimeOffset.UtcNow.AddSeconds(1).ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture),
                Filters = new Dictionary<string, IDictionary<string, bool>> { ["container"] = new Dictionary<string, bool> { [gateway.ProxyId!] = true } },
            },
            events,
            CancellationToken.None);
        var actions = events.Messages.Select(m => m.Action).ToList();
        Assert.Contains("destroy", actions);
        Assert.DoesNotContain("stop", actions);
        Assert.All(events.Messages.Where(m => m.Action == "kill"), m => Assert.Equal("9", m.Actor.Attributes["signal"]));
    }

    [Fact]
    public async Task A_run_teardown_sweeping_its_labels_while_a_holder_is_released_in_the_background_waits_for_it_and_leaves_nothing()
    {
        // The second box of a site gets a holder of its own, labelled with the run; its release after the box runs in the
        // background, and the run's teardown that follows at once removes by the same labels: the engine refused the
        // second removal ("already in progress"), which took the rest of the teardown (the run's folder) with it.
        var (site, gateway) = await OpenAsync("run-sweep", "allowed.example.test", KeyA);
        Assert.Contains("403", await RunAsync(site, ViaProxy("refused.example.test")), StringComparison.Ordinal);
        var second = await site.CreateBoxAsync(Probe("true"), CancellationToken.None);
        var holder = ((DockerTaskBox)second).Network!.HolderId;

        await second.DisposeAsync();
        await Backend.RemoveRunAsync(_scope, "run-sweep", CancellationToken.None);

        using var client = docker.Engine.Connection.CreateClient();
        await Assert.ThrowsAsync<DockerContainerNotFoundException>(() => client.Containers.InspectContainerAsync(holder));
        Assert.Empty(await Backend.Containers.ListAsync(LabelSelector.Of(_scope, "run-sweep"), CancellationToken.None));
        await Backend.SettledAsync(CancellationToken.None);
        Assert.Empty(await Backend.Containers.ListAsync(LabelSelector.Of(DockerEgress.GatewayLabel, gateway.Id), CancellationToken.None));
    }

    [Fact]
    public async Task A_gateway_a_dead_process_left_spare_or_handed_over_is_removed_by_a_repository_sweep()
    {
        using var client = docker.Engine.Connection.CreateClient();
        var dead = $"{Environment.MachineName}/{DeadPid()}";
        var id = "orphan" + Guid.NewGuid().ToString("N")[..10];
        var labels = new Dictionary<string, string> { [DockerEgress.GatewayLabel] = id, [Labels.Owner] = dead, [Labels.Role] = DockerEgress.ProxyRole };
        var network = $"sandbox-runner-gw-{id}";
        await client.Networks.CreateNetworkAsync(new NetworksCreateParameters { Name = network, Internal = true, Labels = labels });
        var proxy = (await client.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Image = DockerFixture.FakeCodexImage, Cmd = ["true"], Labels = labels, HostConfig = new HostConfig { NetworkMode = network },
        })).ID;
        try
        {
            Assert.True(await Backend.RemoveOrphansAsync(_scope, CancellationToken.None) >= 2);

            await Assert.ThrowsAsync<DockerContainerNotFoundException>(() => client.Containers.InspectContainerAsync(proxy));
            Assert.DoesNotContain(await client.Networks.ListNetworksAsync(), n => n.Name == network);
        }
        finally
        {
            await Backend.Containers.RemoveAsync(proxy, CancellationToken.None);
            await Backend.Networks.RemoveAsync(network, CancellationToken.None);
        }
    }

    /// <summary>A pid that no process of this machine has: one just exited.</summary>
    private static int DeadPid()
    {
        using var process = System.Diagnostics.Process.Start("true")!;
        process.WaitForExit();
        return process.Id;
    }

    /// <summary>Collects the events as the client reads them (Progress&lt;T&gt; would post them later, on the thread pool).</summary>
    private sealed class EventList : IProgress<Message>
    {
        public List<Message> Messages { get; } = [];

        public void Report(Message value) => Messages.Add(value);
    }
}
