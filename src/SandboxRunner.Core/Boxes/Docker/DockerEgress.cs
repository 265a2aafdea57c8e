using Docker.DotNet;

namespace SandboxRunner.Boxes.Docker;

/// <summary>
/// The egress of an allowlist site, for exactly one run. A Docker network created <c>internal</c>, one proxy container
/// on it and on the default bridge: squid forwards only to the allowlist and answers everything else with an
/// immediate 403; nginx forwards model requests to the upstream and adds the credential there. Each box joins a
/// namespace held by a small helper that replaced the default route Docker 20.10 still gives internal networks
/// (to the host) with "unreachable", so nothing but the proxy answers, and nothing waits for a drop. No DNS
/// server is reachable: only the proxy's name resolves.
/// <pre>
///   box ──(internal net, no route out)──► proxy :3128 squid ──allowlist──► host:port
///                                         proxy :8080 nginx ──+API key──► model API
///                                               or ──+ChatGPT token, account id──► ChatGPT backend (Codex's model paths only)
/// </pre>
/// It is made in two steps, so the first can happen before its run is known (<see cref="DockerGateways"/>):
/// <see cref="PrepareAsync"/> makes the network, starts the proxy (which waits on its standard input, listening
/// nowhere) and one holder; <see cref="HandOverAsync"/> writes the run's allowlist, model route and credential to the
/// proxy's standard input, the only way anything of the run reaches it (never its environment, command, labels or
/// image, which anyone holding the engine's API reads). Everything it made carries <see cref="GatewayLabel"/> with
/// its id, and goes with it.
/// </summary>
internal sealed class DockerEgress
{
    public const string ProxyAlias = "sandbox-proxy";
    public const int ForwardPort = 3128;
    public const int ModelPort = 8080;
    public const string ProxyRole = "egress";
    public const string HolderRole = "netns";

    /// <summary>The gateway a container or network belongs to: how its teardown and the orphan sweep find all of it.</summary>
    public const string GatewayLabel = "sandbox-runner.gateway";

    private static readonly TimeSpan ReadyBudget = TimeSpan.FromSeconds(30);

    private readonly DockerBackend _docker;
    private readonly IReadOnlyDictionary<string, string> _labels;
    private MultiplexedStream? _stdin;
    private TaskNetwork? _holder;
    private EgressSpec? _egress;
    private RunSiteSpec? _site;
    private readonly List<Task> _releases = [];
    private int _retired;

    private DockerEgress(DockerBackend docker, string id, string networkName, GatewayKey key, IReadOnlyDictionary<string, string> labels)
    {
        _docker = docker;
        Id = id;
        NetworkName = networkName;
        Key = key;
        _labels = labels;
    }

    public string Id { get; }

    public string NetworkName { get; }

    /// <summary>What a gateway made ahead of its run must share with the run that takes it.</summary>
    public GatewayKey Key { get; }

    public string? ProxyId { get; private set; }

    public string ProxyAddress { get; private set; } = "";

    /// <summary>True the first time only: its removal has begun (see <see cref="DockerGateways"/>).</summary>
    public bool MarkRetired() => Interlocked.Exchange(ref _retired, 1) == 0;

    /// <summary>The run it was handed to, once handed over.</summary>
    public RunSiteSpec? Site => _site;

    public EgressEndpoints Endpoints => _egress is { } egress
        ? new($"http://{ProxyAlias}:{ModelPort}", $"http://{ProxyAlias}:{ForwardPort}", $"localhost,127.0.0.1,{ProxyAlias}", egress.Allowlist)
        : throw new InvalidOperationException("the gateway has not been handed to a run yet");

    private Dictionary<string, string> LabelsFor(string role, IReadOnlyDictionary<string, string>? run = null)
    {
        var labels = new Dictionary<string, string>(run ?? _labels, StringComparer.Ordinal)
        {
            [Labels.Role] = role,
            [GatewayLabel] = Id,
        };
        return labels;
    }

    /// <summary>
    /// Makes the network, the proxy (started, waiting for its run) and one holder, labelled with the gateway alone
    /// (and the backend's owner): the same whether its run is known yet or not, so its removal never depends on a run's
    /// labels (the run's own teardown removes what carries those before its reply). Removes what it made when it throws.
    /// </summary>
    public static async Task<DockerEgress> PrepareAsync(DockerBackend docker, GatewayKey key, CancellationToken cancellationToken)
    {
        var id = Guid.NewGuid().ToString("N")[..16];
        var egress = new DockerEgress(docker, id, $"sandbox-runner-gw-{id}", key, new Dictionary<string, string>());
        try
        {
            await egress.MakeAsync(cancellationToken);
            return egress;
        }
        catch
        {
            await egress.RemoveAsync(CancellationToken.None);
            throw;
        }
    }

    private async Task MakeAsync(CancellationToken cancellationToken)
    {
        var labels = LabelsFor(ProxyRole);
        await _docker.Networks.CreateAsync(NetworkName, isInternal: true, labels, cancellationToken);

        // Not secret: the proxy binds squid and nginx to its own address in this subnet, never to the bridge it
        // also sits on, so nothing but this gateway's boxes (which reach only this network) can talk to it.
        var subnet = await _docker.Networks.SubnetAsync(NetworkName, cancellationToken)
            ?? throw new InvalidOperationException($"the engine gave the run's network {NetworkName} no IPv4 subnet");
        ProxyId = await _docker.Containers.CreateAsync(
            new ContainerSpec
            {
                Image = Key.ProxyImage,
                Command = [],
                User = "0:0",
                WorkingDirectory = "/",
                Environment = new Dictionary<string, string> { ["SANDBOX_LISTEN_SUBNET"] = subnet },
                Labels = labels,
                Limits = new ResourceLimits(MemoryBytes: 256L * 1024 * 1024, Cpus: 0.5, Pids: 128, TmpBytes: 64L * 1024 * 1024),

                // The proxy is the runner's, not the agent's, but it still gets only what squid and nginx need.
                CapAdd = ["CHOWN", "SETUID", "SETGID", "DAC_OVERRIDE", "FOWNER"],
                ReadOnlyRootFilesystem = false,
                NetworkMode = "bridge",
                Dns = Key.DnsServers,

                // The run (allowlist, route, key, ChatGPT token and account id) arrives on stdin at hand-over.
                OpenStdin = true,
            },
            cancellationToken);
        await _docker.Networks.ConnectAsync(NetworkName, ProxyId, ProxyAlias, cancellationToken);

        // Held open until the hand-over (or the gateway's removal): if this process dies first, the proxy reads the
        // end of its input without its run and exits, holding nothing.
        _stdin = await _docker.Containers.StartAttachedAsync(ProxyId, cancellationToken);
        ProxyAddress = await _docker.Containers.AddressAsync(ProxyId, NetworkName, cancellationToken)
            ?? throw new InvalidOperationException($"the egress proxy has no address on {NetworkName}");
        _holder = await MakeHolderAsync(LabelsFor(HolderRole), cancellationToken);
    }

    /// <summary>
    /// Gives the proxy its run and waits until squid and nginx listen. A gateway is handed over once, to one run:
    /// nothing of any other run was ever in it.
    /// </summary>
    public async Task HandOverAsync(RunSiteSpec site, EgressSpec egress, CancellationToken cancellationToken)
    {
        var stdin = Interlocked.Exchange(ref _stdin, null) ?? throw new InvalidOperationException($"gateway {Id} was already handed over");
        _site = site;
        _egress = egress;

        // Following the proxy's output from before the write: its "ready" is seen as soon as it is printed.
        using var readyStop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var ready = WaitForLineAsync(ProxyId!, "sandbox-proxy ready", readyStop.Token);
        try
        {
            var handover = ProxyProtocol.Handover(egress);
            try
            {
                await DockerContainers.WriteInputAsync(stdin, handover, cancellationToken);
            }
            finally
            {
                System.Security.Cryptography.CryptographicOperations.ZeroMemory(handover);
                stdin.Dispose();
            }
        }
        catch
        {
            await readyStop.CancelAsync();
            await ready.ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            throw;
        }

        await ready;
    }

    /// <summary>Creates the network namespace a box joins (the one made with the gateway first); remove its holder after the box is gone.</summary>
    public async Task<TaskNetwork> CreateTaskNetworkAsync(string? taskId, CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _holder, null) is { } made)
        {
            return made;
        }

        var labels = LabelsFor(HolderRole, _site is { } site ? Labels.For(site.Scope, site.RunId, new BoxIdentity(taskId)) : null);
        return await MakeHolderAsync(labels, cancellationToken);
    }

    private async Task<TaskNetwork> MakeHolderAsync(Dictionary<string, string> labels, CancellationToken cancellationToken)
    {
        // Not cancelled mid-create (see IRunSite.CreateBoxAsync); the gateway's removal finds it by its label anyway.
        using var createBudget = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var id = await _docker.Containers.CreateAsync(
            new ContainerSpec
            {
                Image = Key.ProxyImage,
                Entrypoint = ["/usr/local/bin/netns-holder"],
                Command = [],
                User = "0:0",
                WorkingDirectory = "/",
                Environment = new Dictionary<string, string>(),
                Labels = labels,
                Limits = new ResourceLimits(MemoryBytes: 32L * 1024 * 1024, Cpus: 0.1, Pids: 16, TmpBytes: 1024 * 1024),
                CapAdd = ["NET_ADMIN"],
                NetworkMode = NetworkName,
                ExtraHosts = [$"{ProxyAlias}:{ProxyAddress}"],
                Dns = ["127.0.0.1"],
            },
            createBudget.Token);
        try
        {
            cancellationToken.ThrowIfCancellationRequested();
            await _docker.Containers.StartAsync(id, cancellationToken);
            await WaitForLineAsync(id, "netns ready", cancellationToken);
            var address = await _docker.Containers.AddressAsync(id, NetworkName, cancellationToken)
                ?? throw new InvalidOperationException($"a box's network holder got no address on {NetworkName}");
            return new TaskNetwork(id, address);
        }
        catch
        {
            await _docker.Containers.RemoveAsync(id, CancellationToken.None);
            throw;
        }
    }

    /// <summary>
    /// Removes a box's holder once the box is gone, in the background (nothing joins it again); never throws: the
    /// gateway's removal, which waits for this first, takes whatever is left by its label.
    /// </summary>
    public Task ReleaseHolder(string holderId)
    {
        var removal = Task.Run(async () =>
        {
            try
            {
                using var budget = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                await _docker.Containers.RemoveAsync(holderId, budget.Token);
            }
            catch (Exception e) when (e is InvalidOperationException or OperationCanceledException or DockerApiException or IOException or HttpRequestException)
            {
            }
        });
        lock (_releases)
        {
            _releases.Add(removal);
        }

        return removal;
    }

    /// <summary>Hosts the proxy refused to <paramref name="network"/> since <paramref name="since"/>, from squid's access log, read whole from the proxy.</summary>
    public async Task<IReadOnlyList<string>> RefusedHostsAsync(TaskNetwork network, DateTimeOffset since, CancellationToken cancellationToken)
    {
        if (ProxyId is null)
        {
            return [];
        }

        var log = await _docker.Containers.ReadFileAsync(ProxyId, ProxyProtocol.AccessLog, 64L * 1024 * 1024, cancellationToken);
        return log is null ? [] : ProxyProtocol.ParseRefused(System.Text.Encoding.UTF8.GetString(log), network.Address, since);
    }

    /// <summary>
    /// Removes the proxy, every holder (the one never taken, and any a box could not release), then the network: all
    /// that carries this gateway's label, removed with force (SIGKILL, no stop timeout: the proxy's log was read
    /// when each box ended, and it holds nothing else to flush), the containers at once.
    /// </summary>
    public async Task RemoveAsync(CancellationToken cancellationToken)
    {
        Interlocked.Exchange(ref _stdin, null)?.Dispose();
        Task[] releases;
        lock (_releases)
        {
            releases = [.. _releases];
        }

        // Two removals of one container at once: the engine refuses the second ("already in progress").
        await Task.WhenAll(releases).WaitAsync(cancellationToken);
        var containers = await _docker.Containers.ListAsync(LabelSelector.Of(GatewayLabel, Id), cancellationToken);
        await Task.WhenAll(containers.Select(c => _docker.Containers.RemoveAsync(c.ID, cancellationToken)));
        await _docker.Networks.RemoveAsync(NetworkName, cancellationToken);
    }

    private async Task WaitForLineAsync(string containerId, string line, CancellationToken cancellationToken)
    {
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        budget.CancelAfter(ReadyBudget);
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var follow = CancellationTokenSource.CreateLinkedTokenSource(budget.Token);
        var text = new System.Text.StringBuilder();
        var reading = _docker.Containers.ReadLogsAsync(containerId, follow: true, (_, chunk) =>
        {
            text.Append(System.Text.Encoding.UTF8.GetString(chunk));
            if (text.ToString().Contains(line, StringComparison.Ordinal))
            {
                seen.TrySetResult();
            }
        }, follow.Token);
        try
        {
            var first = await Task.WhenAny(seen.Task, reading);
            if (first != seen.Task)
            {
                await reading;
                throw new InvalidOperationException($"container {DockerErrors.Short(containerId)} stopped before it was ready: {text}");
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new InvalidOperationException($"container {DockerErrors.Short(containerId)} was not ready within {ReadyBudget.TotalSeconds:F0} s: {text}");
        }
        finally
        {
            await follow.CancelAsync();
            await reading.ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }
}

/// <summary>What a gateway is made of before its run is known: the proxy image, and where the proxy resolves names.</summary>
internal sealed record GatewayKey(string ProxyImage, IReadOnlyList<string> DnsServers)
{
    public static GatewayKey Of(EgressSpec egress) => new(egress.ProxyImage, egress.DnsServers);

    public bool Equals(GatewayKey? other) =>
        other is not null && ProxyImage == other.ProxyImage && DnsServers.SequenceEqual(other.DnsServers);

    public override int GetHashCode() => HashCode.Combine(ProxyImage, string.Join(',', DnsServers));
}
