namespace SandboxRunner.Boxes.Docker;

/// <summary>
/// The egress of an allowlist site. A per-run Docker network created <c>internal</c>, and one proxy container on
/// it and on the default bridge: squid forwards only to the allowlist and answers everything else with an
/// immediate 403; nginx forwards model requests to the upstream and adds the credential there. Each box joins a
/// namespace held by a small helper that replaced the default route Docker 20.10 still gives internal networks
/// (to the host) with "unreachable", so nothing but the proxy answers, and nothing waits for a drop. No DNS
/// server is reachable: only the proxy's name resolves.
/// <pre>
///   box ──(internal net, no route out)──► proxy :3128 squid ──allowlist──► host:port
///                                         proxy :8080 nginx ──+API key──► model API
///                                               or ──+ChatGPT token, account id──► ChatGPT backend (Codex's model paths only)
/// </pre>
/// The network, the proxy and every holder carry the run's labels and go when the site is disposed.
/// </summary>
internal sealed class DockerEgress
{
    public const string ProxyAlias = "sandbox-proxy";
    public const int ForwardPort = 3128;
    public const int ModelPort = 8080;
    public const string ProxyRole = "egress";
    public const string HolderRole = "netns";
    private static readonly TimeSpan ReadyBudget = TimeSpan.FromSeconds(30);

    private readonly DockerBackend _docker;
    private readonly RunSiteSpec _site;
    private readonly EgressSpec _egress;
    private string? _proxyId;
    private string _proxyAddress = "";

    public DockerEgress(DockerBackend docker, RunSiteSpec site, EgressSpec egress)
    {
        _docker = docker;
        _site = site;
        _egress = egress;
        NetworkName = $"sandbox-runner-{site.Scope.Repository ?? "any"}-{site.RunId ?? "none"}";
    }

    public string NetworkName { get; }

    public EgressEndpoints Endpoints => new(
        $"http://{ProxyAlias}:{ModelPort}", $"http://{ProxyAlias}:{ForwardPort}", $"localhost,127.0.0.1,{ProxyAlias}", _egress.Allowlist);

    private Dictionary<string, string> LabelsFor(string role, string? taskId = null)
    {
        var labels = Labels.For(_site.Scope, _site.RunId, new BoxIdentity(taskId));
        labels[Labels.Role] = role;
        return labels;
    }

    /// <summary>Creates the network and starts the proxy; the site removes what was made when this throws.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var labels = LabelsFor(ProxyRole);
        await _docker.Networks.CreateAsync(NetworkName, isInternal: true, labels, cancellationToken);

        // Not secret: the proxy binds squid and nginx to its own address in this subnet, never to the bridge it
        // also sits on, so nothing but this run's boxes (which reach only this network) can talk to it.
        var subnet = await _docker.Networks.SubnetAsync(NetworkName, cancellationToken)
            ?? throw new InvalidOperationException($"the engine gave the run's network {NetworkName} no IPv4 subnet");
        var environment = new Dictionary<string, string>
        {
            ["SANDBOX_ALLOW"] = string.Join(' ', _egress.Allowlist),
            ["SANDBOX_MODEL_UPSTREAM"] = _egress.Route.Upstream,
            ["SANDBOX_LISTEN_SUBNET"] = subnet,
        };
        if (_egress.Route.ChatGpt is { } chatGpt)
        {
            environment["SANDBOX_MODEL_AUTH"] = "chatgpt";
            environment["SANDBOX_CHATGPT_FEDRAMP"] = chatGpt.Fedramp ? "true" : "";
        }

        var secrets = ProxyProtocol.Secrets(_egress);
        _proxyId = await _docker.Containers.CreateAsync(
            new ContainerSpec
            {
                Image = _egress.ProxyImage,
                Command = [],
                User = "0:0",
                WorkingDirectory = "/",
                Environment = environment,
                Labels = labels,
                Limits = new ResourceLimits(MemoryBytes: 256L * 1024 * 1024, Cpus: 0.5, Pids: 128, TmpBytes: 64L * 1024 * 1024),

                // The proxy is the runner's, not the agent's, but it still gets only what squid and nginx need.
                CapAdd = ["CHOWN", "SETUID", "SETGID", "DAC_OVERRIDE", "FOWNER"],
                ReadOnlyRootFilesystem = false,
                NetworkMode = "bridge",
                Dns = _egress.DnsServers,

                // The key, the ChatGPT token and its account id arrive on stdin (into the proxy's tmpfs), never in
                // its environment, command, labels or layer, which anyone holding the engine's API can read.
                OpenStdin = true,
            },
            cancellationToken);
        await _docker.Networks.ConnectAsync(NetworkName, _proxyId, ProxyAlias, cancellationToken);
        try
        {
            await _docker.Containers.StartWithInputAsync(_proxyId, secrets, cancellationToken);
        }
        finally
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(secrets);
        }

        await WaitForLineAsync(_proxyId, "sandbox-proxy ready", cancellationToken);
        _proxyAddress = await _docker.Containers.AddressAsync(_proxyId, NetworkName, cancellationToken)
            ?? throw new InvalidOperationException($"the egress proxy has no address on {NetworkName}");
    }

    /// <summary>Creates the network namespace a box joins; remove its holder after the box is gone.</summary>
    public async Task<TaskNetwork> CreateTaskNetworkAsync(string? taskId, CancellationToken cancellationToken)
    {
        // Not cancelled mid-create (see IRunSite.CreateBoxAsync); the site's teardown removes it by label anyway.
        using var createBudget = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var id = await _docker.Containers.CreateAsync(
            new ContainerSpec
            {
                Image = _egress.ProxyImage,
                Entrypoint = ["/usr/local/bin/netns-holder"],
                Command = [],
                User = "0:0",
                WorkingDirectory = "/",
                Environment = new Dictionary<string, string>(),
                Labels = LabelsFor(HolderRole, taskId),
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
            await _docker.Containers.StartAsync(id, cancellationToken);
            await WaitForLineAsync(id, "netns ready", cancellationToken);
            var address = await _docker.Containers.AddressAsync(id, NetworkName, cancellationToken)
                ?? throw new InvalidOperationException($"task {taskId} got no address on {NetworkName}");
            return new TaskNetwork(id, address);
        }
        catch
        {
            await _docker.Containers.RemoveAsync(id, CancellationToken.None);
            throw;
        }
    }

    /// <summary>Hosts the proxy refused to <paramref name="network"/> since <paramref name="since"/>, from squid's access log, read whole from the proxy.</summary>
    public async Task<IReadOnlyList<string>> RefusedHostsAsync(TaskNetwork network, DateTimeOffset since, CancellationToken cancellationToken)
    {
        if (_proxyId is null)
        {
            return [];
        }

        var log = await _docker.Containers.ReadFileAsync(_proxyId, ProxyProtocol.AccessLog, 64L * 1024 * 1024, cancellationToken);
        return log is null ? [] : ProxyProtocol.ParseRefused(System.Text.Encoding.UTF8.GetString(log), network.Address, since);
    }

    /// <summary>
    /// Removes the proxy, every holder a box could not release, and the network: only what this site made, found by
    /// its roles, so a site that goes before the run's last boxes (setup's own) takes none of them.
    /// </summary>
    public async Task RemoveAsync(CancellationToken cancellationToken)
    {
        foreach (var container in await _docker.Containers.ListAsync(LabelSelector.Of(_site.Scope, _site.RunId), cancellationToken))
        {
            if (container.Labels.TryGetValue(Labels.Role, out var role) && role is ProxyRole or HolderRole)
            {
                await _docker.Containers.RemoveAsync(container.ID, cancellationToken);
            }
        }

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
