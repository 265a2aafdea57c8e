namespace SandboxRunner.Boxes.Docker;

/// <summary>What the gateway of a run lets through.</summary>
/// <param name="Allowlist">Hosts the forward proxy allows: <c>host</c> (ports 80 and 443) or <c>host:port</c>.</param>
/// <param name="ModelUpstream">The model API base URL the reverse proxy forwards to.</param>
/// <param name="ModelKey">The API key the reverse proxy adds; it never enters a task container.</param>
/// <param name="DnsServers">Where the proxy resolves the names it is allowed to reach; empty for the engine's default.</param>
public sealed record EgressOptions(string Image, IReadOnlyList<string> Allowlist, string ModelUpstream, string? ModelKey)
{
    public IReadOnlyList<string> DnsServers { get; init; } = [];

    /// <summary>
    /// Set when the model credential is a ChatGPT sign-in: <see cref="ModelUpstream"/> is the ChatGPT backend,
    /// <see cref="ModelKey"/> its access token, and the proxy forwards only Codex's model paths, adding these too.
    /// </summary>
    public ChatGptRoute? ChatGpt { get; init; }

    internal EgressSpec ToSpec() => new(Image, Allowlist, new ModelRoute(ModelUpstream, ModelKey) { ChatGpt = ChatGpt }) { DnsServers = DnsServers };
}

/// <summary>
/// The egress of one run in <c>network_policy: deny</c>. A per-run Docker network created <c>internal</c>,
/// and one proxy container on it and on the default bridge: squid forwards only to the allowlist and
/// answers everything else with an immediate 403; nginx forwards model requests to the upstream and adds
/// the API key there. Each task joins a namespace held by a small helper that replaced the default route
/// Docker 20.10 still gives internal networks (to the host) with "unreachable", so nothing but the proxy
/// answers, and nothing waits for a drop. No DNS server is reachable: only the proxy's name resolves.
/// <pre>
///   task ──(internal net, no route out)──► proxy :3128 squid ──allowlist──► host:port
///                                           proxy :8080 nginx ──+API key──► model API
///                                                 or ──+ChatGPT token, account id──► ChatGPT backend (Codex's model paths only)
/// </pre>
/// The network, the proxy and every holder carry the run's label and go when the gateway is disposed.
/// </summary>
public sealed class EgressGateway : IAsyncDisposable
{
    public const string ProxyAlias = "sandbox-proxy";
    public const int ForwardPort = 3128;
    public const int ModelPort = 8080;
    private static readonly TimeSpan ReadyBudget = TimeSpan.FromSeconds(30);

    private readonly IContainerEngine _engine;
    private readonly string _runId;
    private readonly string _scope;
    private readonly EgressOptions _options;
    private string? _proxyId;
    private string _proxyAddress = "";
    private int _disposed;

    private EgressGateway(IContainerEngine engine, string scope, string runId, EgressOptions options)
    {
        _engine = engine;
        _scope = scope;
        _runId = runId;
        _options = options;
        NetworkName = $"sandbox-runner-{scope}-{runId}";
    }

    public string NetworkName { get; }

    public string ForwardProxyUrl => $"http://{ProxyAlias}:{ForwardPort}";

    public string ModelBaseUrl => $"http://{ProxyAlias}:{ModelPort}";

    public IReadOnlyList<string> Allowlist => _options.Allowlist;

    /// <summary>Starts the gateway; whatever it created is removed again when it cannot start.</summary>
    /// <param name="scope">The repository's <see cref="Labels.Scope"/>: names and teardown stay within it.</param>
    public static async Task<EgressGateway> StartAsync(IContainerEngine engine, string scope, string runId, EgressOptions options, CancellationToken cancellationToken)
    {
        var gateway = new EgressGateway(engine, scope, runId, options);
        try
        {
            await gateway.StartProxyAsync(cancellationToken);
            return gateway;
        }
        catch
        {
            await gateway.DisposeAsync();
            throw;
        }
    }

    private async Task StartProxyAsync(CancellationToken cancellationToken)
    {
        var labels = new Dictionary<string, string> { [Labels.Scope] = _scope, [Labels.Run] = _runId, [Labels.Role] = "egress" };
        await _engine.CreateNetworkAsync(NetworkName, isInternal: true, labels, cancellationToken);

        // Not secret: the proxy binds squid and nginx to its own address in this subnet, never to the bridge it
        // also sits on, so nothing but this run's tasks (which reach only this network) can talk to it.
        var subnet = await _engine.SubnetAsync(NetworkName, cancellationToken)
            ?? throw new InvalidOperationException($"the engine gave the run's network {NetworkName} no IPv4 subnet");
        var environment = new Dictionary<string, string>
        {
            ["SANDBOX_ALLOW"] = string.Join(' ', _options.Allowlist),
            ["SANDBOX_MODEL_UPSTREAM"] = _options.ModelUpstream,
            ["SANDBOX_LISTEN_SUBNET"] = subnet,
        };
        if (_options.ChatGpt is { } chatGpt)
        {
            environment["SANDBOX_MODEL_AUTH"] = "chatgpt";
            environment["SANDBOX_CHATGPT_FEDRAMP"] = chatGpt.Fedramp ? "true" : "";
        }

        var secrets = Secrets(_options);
        _proxyId = await _engine.CreateAsync(
            new ContainerSpec
            {
                Image = _options.Image,
                Command = [],
                User = "0:0",
                WorkingDirectory = "/",
                Environment = environment,
                Mounts = [],
                Labels = labels,
                Limits = new ResourceLimits(MemoryBytes: 256L * 1024 * 1024, Cpus: 0.5, Pids: 128, TmpBytes: 64L * 1024 * 1024),

                // The proxy is the runner's, not the agent's, but it still gets only what squid and nginx need.
                CapAdd = ["CHOWN", "SETUID", "SETGID", "DAC_OVERRIDE", "FOWNER"],
                ReadOnlyRootFilesystem = false,
                NetworkMode = "bridge",
                Dns = _options.DnsServers,

                // The key, the ChatGPT token and its account id arrive on stdin (into the proxy's tmpfs), never in
                // its environment, command, labels or layer, which anyone holding the engine's API can read.
                OpenStdin = true,
            },
            cancellationToken);
        await _engine.ConnectAsync(NetworkName, _proxyId, ProxyAlias, cancellationToken);
        try
        {
            await _engine.StartWithInputAsync(_proxyId, secrets, cancellationToken);
        }
        finally
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(secrets);
        }

        await WaitForLineAsync(_proxyId, "sandbox-proxy ready", cancellationToken);
        _proxyAddress = await _engine.AddressAsync(_proxyId, NetworkName, cancellationToken)
            ?? throw new InvalidOperationException($"the egress proxy has no address on {NetworkName}");
    }

    /// <summary>
    /// What the proxy reads from its standard input: <c>name=value</c> lines ending with a line holding one dot
    /// (images/egress-proxy/entrypoint.sh). A value goes into an nginx header verbatim, so one that could end
    /// the header or name an nginx variable is refused here rather than carried.
    /// </summary>
    internal static byte[] Secrets(EgressOptions options) => ProxyProtocol.Secrets(options.ToSpec());

    /// <summary>Creates the network namespace a task joins; dispose it after the task's container is gone.</summary>
    public async Task<TaskNetwork> CreateTaskNetworkAsync(string taskId, CancellationToken cancellationToken)
    {
        // Not cancelled mid-create (see Sandbox.CreateAsync); the gateway's teardown removes it by label anyway.
        using var createBudget = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var id = await _engine.CreateAsync(
            new ContainerSpec
            {
                Image = _options.Image,
                Entrypoint = ["/usr/local/bin/netns-holder"],
                Command = [],
                User = "0:0",
                WorkingDirectory = "/",
                Environment = new Dictionary<string, string>(),
                Mounts = [],
                Labels = new Dictionary<string, string> { [Labels.Scope] = _scope, [Labels.Run] = _runId, [Labels.Task] = taskId, [Labels.Role] = "netns" },
                Limits = new ResourceLimits(MemoryBytes: 32L * 1024 * 1024, Cpus: 0.1, Pids: 16, TmpBytes: 1024 * 1024),
                CapAdd = ["NET_ADMIN"],
                NetworkMode = NetworkName,
                ExtraHosts = [$"{ProxyAlias}:{_proxyAddress}"],
                Dns = ["127.0.0.1"],
            },
            createBudget.Token);
        try
        {
            cancellationToken.ThrowIfCancellationRequested();
            await _engine.StartAsync(id, cancellationToken);
            await WaitForLineAsync(id, "netns ready", cancellationToken);
            var address = await _engine.AddressAsync(id, NetworkName, cancellationToken)
                ?? throw new InvalidOperationException($"task {taskId} got no address on {NetworkName}");
            return new TaskNetwork(id, address);
        }
        catch
        {
            await _engine.RemoveAsync(id, CancellationToken.None);
            throw;
        }
    }

    public Task ReleaseTaskNetworkAsync(TaskNetwork network, CancellationToken cancellationToken) =>
        _engine.RemoveAsync(network.HolderId, cancellationToken);

    /// <summary>
    /// Hosts the proxy refused to <paramref name="network"/> since <paramref name="since"/>, from squid's access
    /// log, read whole from the proxy's filesystem (squid writes it unbuffered; its copy on stdout may lag).
    /// </summary>
    public async Task<IReadOnlyList<string>> RefusedHostsAsync(TaskNetwork network, DateTimeOffset since, CancellationToken cancellationToken)
    {
        if (_proxyId is null)
        {
            return [];
        }

        var log = await _engine.ReadFileAsync(_proxyId, ProxyProtocol.AccessLog, 64L * 1024 * 1024, cancellationToken);
        return log is null ? [] : ParseRefused(System.Text.Encoding.UTF8.GetString(log), network.Address, since);
    }

    internal static IReadOnlyList<string> ParseRefused(string log, string client, DateTimeOffset since) => ProxyProtocol.ParseRefused(log, client, since);

    private async Task WaitForLineAsync(string containerId, string line, CancellationToken cancellationToken)
    {
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        budget.CancelAfter(ReadyBudget);
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var follow = CancellationTokenSource.CreateLinkedTokenSource(budget.Token);
        var text = new System.Text.StringBuilder();
        var reading = _engine.ReadLogsAsync(containerId, follow: true, (_, chunk) =>
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

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        // Teardown never throws: a run's results are already on disk and must not be replaced by a
        // cleanup error. What could not be removed is left to orphan removal and said in TeardownError.
        using var budget = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            foreach (var id in await _engine.ListContainersAsync(Labels.OfRun(_scope, _runId), budget.Token))
            {
                // Holders left by a task that could not release its own; the proxy itself.
                await _engine.RemoveAsync(id, budget.Token);
            }

            await _engine.RemoveNetworkAsync(NetworkName, budget.Token);
        }
        catch (Exception e)
        {
            TeardownError = $"the egress gateway of run {_runId} was not fully removed: {e.Message}";
        }
    }

    /// <summary>Set when <see cref="DisposeAsync"/> could not remove everything.</summary>
    public string? TeardownError { get; private set; }

}
