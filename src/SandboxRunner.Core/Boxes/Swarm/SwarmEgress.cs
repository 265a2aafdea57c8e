using System.Net;
using Docker.DotNet;
using Docker.DotNet.Models;
using SandboxRunner.Boxes.Docker;
using static SandboxRunner.Boxes.Docker.DockerErrors;

namespace SandboxRunner.Boxes.Swarm;

/// <summary>
/// The egress of an allowlist site on a swarm: the local proxy (images/egress-proxy, squid + nginx) as a one-replica
/// service of the run's own.
/// <pre>
///   box ──(run's internal overlay: no route out, no DNS but the network's names)──► sandbox-proxy :3128 squid ──allowlist──► host:port
///                                                                                   sandbox-proxy :8080 nginx ──+credential──► model API
///                                         proxy ──(run's outbound overlay, the node's docker_gwbridge)──► the world
/// </pre>
/// The internal overlay is attachable and <c>Internal</c>: a container on it gets no default route and no gateway
/// bridge, so it reaches only the overlay's other members. The proxy joins it under the alias <c>sandbox-proxy</c>
/// (as locally, so a box's endpoints read the same) and a second, ordinary overlay that only it joins for its own way
/// out. The model key or ChatGPT token (and account id) is a swarm secret made for this run, mounted into the proxy
/// alone (a root-only file on its node's tmpfs) and fed to its standard input, the local proxy's protocol
/// (<see cref="ProxyProtocol.Secrets"/>): never in an environment, a command or a label, which anyone holding the
/// manager's API reads. Everything carries the run's labels and the role <see cref="Role"/>, and goes when the site is
/// disposed, with the run's removal, or as an orphan.
/// </summary>
internal sealed class SwarmEgress
{
    /// <summary>The role label of a run's proxy service, its secret and its two networks (the local proxy's role too).</summary>
    public const string Role = "egress";

    /// <summary>The name boxes reach the proxy by, and its ports (the ones images/egress-proxy listens on).</summary>
    public const string ProxyAlias = "sandbox-proxy";

    public const int ForwardPort = 3128;
    public const int ModelPort = 8080;

    /// <summary>Where the secret is mounted in the proxy's container (<c>/run/secrets/</c>, a tmpfs of its node).</summary>
    private const string SecretFile = "sandbox-proxy";

    private static readonly TimeSpan StartDeadline = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan ReadyBudget = TimeSpan.FromSeconds(60);

    private readonly SwarmBackend _swarm;
    private readonly DockerClient _client;
    private readonly SwarmImages _images;
    private readonly EgressSpec _egress;
    private readonly IReadOnlyDictionary<string, string> _labels;
    private string? _serviceId;
    private string? _secretId;
    private string? _internalId;
    private NodeEngine? _proxyEngine;
    private string? _proxyContainer;

    public SwarmEgress(SwarmBackend swarm, DockerClient client, SwarmImages images, EgressSpec egress, IReadOnlyDictionary<string, string> labels)
    {
        _swarm = swarm;
        _client = client;
        _images = images;
        _egress = egress;
        _labels = new Dictionary<string, string>(labels) { [Labels.Role] = Role };
        var id = Guid.NewGuid().ToString("N")[..16];
        ServiceName = $"sandbox-runner-egress-{id}";
        InternalNetwork = $"sandbox-runner-deny-{id}";
        OutboundNetwork = $"sandbox-runner-out-{id}";
        SecretName = $"sandbox-runner-egress-{id}";
    }

    public string ServiceName { get; }

    /// <summary>The run's internal overlay: the only network its boxes join.</summary>
    public string InternalNetwork { get; }

    /// <summary>The proxy's own way out: an ordinary overlay nothing else joins (its node's gateway bridge routes it).</summary>
    public string OutboundNetwork { get; }

    public string SecretName { get; }

    public EgressEndpoints Endpoints => new(
        $"http://{ProxyAlias}:{ModelPort}", $"http://{ProxyAlias}:{ForwardPort}", $"localhost,127.0.0.1,{ProxyAlias}", _egress.Allowlist);

    /// <summary>
    /// A box's DNS on this site: nothing but the overlay's own names (the engine answers those itself). Swarm's resolver
    /// forwards every other name to these servers from inside the box's namespace, where nothing answers at 127.0.0.1,
    /// so a name the agent makes up never leaves as a query (the local backend's holder does the same).
    /// </summary>
    public static DNSConfig BoxDns => new() { Nameservers = ["127.0.0.1"] };

    /// <summary>Creates the networks, the secret and the proxy, and waits until the proxy listens; the site removes what was made when this throws.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _internalId = await CreateNetworkAsync(InternalNetwork, isInternal: true, cancellationToken);
        await CreateNetworkAsync(OutboundNetwork, isInternal: false, cancellationToken);

        // Not secret: the proxy binds squid and nginx to its own address in this subnet, never to its way out. The manager's
        // allocator gives an overlay its subnet after the create returns (CI once read none at once), so it is awaited.
        string? subnet = null;
        await Platform.Poll.UntilAsync(
            async ct => (subnet = (await _client.Networks.InspectNetworkAsync(_internalId, ct)).IPAM?.Config?.FirstOrDefault(c => !string.IsNullOrEmpty(c.Subnet))?.Subnet) is not null,
            TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(15), cancellationToken);
        if (subnet is null)
        {
            throw new InvalidOperationException($"the swarm gave the run's network {InternalNetwork} no IPv4 subnet within 15 s: check the manager's default address pools (docker info, Swarm)");
        }

        _secretId = await CreateSecretAsync(cancellationToken);
        var image = await _images.PinnedAsync(_egress.ProxyImage, cancellationToken);

        // The proxy goes only where the runner reaches the engine: its access log is read there.
        var constraints = (await _swarm.Nodes.ListAsync(cancellationToken)).Where(n => n.Engine is null).Select(n => $"node.id!={n.Id}").ToList();
        using (var budget = new CancellationTokenSource(StartDeadline + TimeSpan.FromSeconds(30)))
        {
            // Not cancelled mid-create (the id could be lost); the site's removal takes it by name and label anyway.
            _serviceId = await _swarm.Services.CreateAsync(ProxySpec(image, subnet, _secretId, constraints), budget.Token);
        }

        var task = await _swarm.Services.WaitForContainerAsync(_serviceId, StartDeadline, () => { }, cancellationToken);
        _proxyEngine = await _swarm.Nodes.EngineAsync(task.NodeID!, cancellationToken)
            ?? throw new InvalidOperationException($"swarm placed the run's egress proxy on node {task.NodeID}, whose engine the runner cannot reach");
        _proxyContainer = task.Status!.ContainerStatus!.ContainerID!;
        await WaitUntilReadyAsync(cancellationToken);
    }

    private ServiceSpec ProxySpec(string image, string subnet, string secretId, IReadOnlyList<string> constraints)
    {
        var environment = new List<string>
        {
            $"SANDBOX_ALLOW={string.Join(' ', _egress.Allowlist)}",
            $"SANDBOX_MODEL_UPSTREAM={_egress.Route.Upstream}",
            $"SANDBOX_LISTEN_SUBNET={subnet}",
        };
        if (_egress.Route.ChatGpt is { } chatGpt)
        {
            environment.Add("SANDBOX_MODEL_AUTH=chatgpt");
            environment.Add($"SANDBOX_CHATGPT_FEDRAMP={(chatGpt.Fedramp ? "true" : "")}");
        }

        return new ServiceSpec
        {
            Name = ServiceName,
            Labels = new Dictionary<string, string>(_labels),
            Mode = new ServiceMode { Replicated = new ReplicatedService { Replicas = 1 } },
            TaskTemplate = new TaskSpec
            {
                ContainerSpec = new global::Docker.DotNet.Models.ContainerSpec
                {
                    Image = image,

                    // The image's own entrypoint, with the secret file as its standard input: the local proxy's protocol.
                    Command = ["/bin/sh", "-c", $"exec /usr/local/bin/sandbox-proxy < /run/secrets/{SecretFile}"],
                    User = "0:0",
                    Dir = "/",
                    Env = environment,
                    Labels = new Dictionary<string, string>(_labels),
                    Init = true,

                    // The proxy is the runner's, not the agent's, but it still gets only what squid and nginx need.
                    CapabilityDrop = ["ALL"],
                    CapabilityAdd = ["CHOWN", "SETUID", "SETGID", "DAC_OVERRIDE", "FOWNER"],
                    Privileges = new Privileges { NoNewPrivileges = true },
                    Mounts = [new Mount { Type = "tmpfs", Target = "/tmp", TmpfsOptions = new TmpfsOptions { SizeBytes = 64L * 1024 * 1024, Mode = 0b1_111_111_111 } }],
                    Secrets =
                    [
                        new SecretReference
                        {
                            SecretID = secretId,
                            SecretName = SecretName,
                            File = new SecretReferenceFileTarget { Name = SecretFile, UID = "0", GID = "0", Mode = 0b100_000_000 },
                        },
                    ],
                    DNSConfig = _egress.DnsServers.Count > 0 ? new DNSConfig { Nameservers = [.. _egress.DnsServers] } : null!,
                    StopGracePeriod = TimeSpan.Zero,
                },
                Resources = new ResourceRequirements { Limits = new SwarmLimit { MemoryBytes = 256L * 1024 * 1024, NanoCPUs = 500_000_000, Pids = 128 } },

                // A proxy that dies is not replaced: its boxes' requests fail (closed), as a local proxy's would.
                RestartPolicy = new SwarmRestartPolicy { Condition = "none", MaxAttempts = 0 },
                Placement = new Placement { Constraints = constraints.ToList() },
                Networks =
                [
                    new NetworkAttachmentConfig { Target = InternalNetwork, Aliases = [ProxyAlias] },
                    new NetworkAttachmentConfig { Target = OutboundNetwork },
                ],
            },

            // Names resolve to the proxy's own address (no virtual IP in between), the address squid logs clients against.
            EndpointSpec = new EndpointSpec { Mode = "dnsrr" },
        };
    }

    private async Task<string> CreateNetworkAsync(string name, bool isInternal, CancellationToken cancellationToken)
    {
        try
        {
            return (await _client.Networks.CreateNetworkAsync(
                new NetworksCreateParameters
                {
                    Name = name,
                    Driver = "overlay",
                    Internal = isInternal,

                    // Boxes are services and need no attaching; the flag lets a node's engine (the runner's look, a test) join a container too.
                    Attachable = isInternal,
                    Labels = new Dictionary<string, string>(_labels),
                },
                cancellationToken)).ID;
        }
        catch (DockerApiException e)
        {
            throw Failure($"creating the run's {(isInternal ? "internal" : "outbound")} overlay network {name}", e);
        }
    }

    private async Task<string> CreateSecretAsync(CancellationToken cancellationToken)
    {
        var data = ProxyProtocol.Secrets(_egress);
        try
        {
            return (await _client.Secrets.CreateAsync(
                new SwarmSecretSpec { Name = SecretName, Labels = new Dictionary<string, string>(_labels), Data = data }, cancellationToken)).ID;
        }
        catch (DockerApiException e)
        {
            throw Failure($"creating the swarm secret {SecretName} that holds the run's model credential", e);
        }
        finally
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(data);
        }
    }

    /// <summary>Reads the proxy's output until it says it listens; its task ending (or the budget) first is an error with what it said.</summary>
    private async Task WaitUntilReadyAsync(CancellationToken cancellationToken)
    {
        var said = "";
        var ready = await Platform.Poll.UntilAsync(
            async ct =>
            {
                var text = new System.Text.StringBuilder();
                await _proxyEngine!.Backend.Containers.ReadLogsAsync(_proxyContainer!, follow: false, (_, chunk) => text.Append(System.Text.Encoding.UTF8.GetString(chunk)), ct);
                said = text.ToString();
                if (said.Contains("sandbox-proxy ready", StringComparison.Ordinal))
                {
                    return true;
                }

                var task = (await _swarm.Services.TasksAsync([_serviceId!], ct)).OrderByDescending(t => t.CreatedAt).FirstOrDefault();
                return task is not null && SwarmTasks.IsFinal(task)
                    ? throw new InvalidOperationException($"the run's egress proxy stopped before it was ready ({SwarmTasks.Describe(task)}): {said.Trim()}")
                    : false;
            },
            TimeSpan.FromMilliseconds(200),
            ReadyBudget,
            cancellationToken);
        if (!ready)
        {
            throw new InvalidOperationException($"the run's egress proxy was not ready within {ReadyBudget.TotalSeconds:F0} s: {said.Trim()}");
        }
    }

    /// <summary>
    /// Hosts the proxy refused to <paramref name="box"/> since <paramref name="since"/>: squid's access log, read whole
    /// from the proxy's container on its node, for the box's address on the run's overlay.
    /// </summary>
    public async Task<IReadOnlyList<string>> RefusedHostsAsync(SwarmTaskBox box, DateTimeOffset since, CancellationToken cancellationToken)
    {
        if (_proxyEngine is null || _proxyContainer is null || await AddressAsync(box.Id, cancellationToken) is not { } address)
        {
            return [];
        }

        var log = await _proxyEngine.Backend.Containers.ReadFileAsync(_proxyContainer, ProxyProtocol.AccessLog, 64L * 1024 * 1024, cancellationToken);
        return log is null ? [] : ProxyProtocol.ParseRefused(System.Text.Encoding.UTF8.GetString(log), address, since);
    }

    /// <summary>The address of <paramref name="serviceId"/>'s task on the run's internal overlay (swarm's record of its attachment).</summary>
    private async Task<string?> AddressAsync(string serviceId, CancellationToken cancellationToken)
    {
        var task = (await _swarm.Services.TasksAsync([serviceId], cancellationToken)).OrderByDescending(t => t.CreatedAt).FirstOrDefault();
        var cidr = task?.NetworksAttachments?.FirstOrDefault(a => a.Network?.ID == _internalId)?.Addresses?.FirstOrDefault();
        return cidr?.Split('/')[0];
    }

    /// <summary>
    /// Removes the proxy, then its secret, then the two networks once free: only what this site made (by name), so a
    /// site that goes before the run's last boxes takes none of them. Never throws for what is already gone.
    /// </summary>
    public async Task RemoveAsync(CancellationToken cancellationToken)
    {
        await _swarm.Services.RemoveAsync(_serviceId ?? ServiceName, cancellationToken);
        if (_proxyEngine is not null && _proxyContainer is not null)
        {
            // Swarm's agent removes a removed service's container when it gets to it; the run's overlay stays on the node until then.
            await _proxyEngine.Backend.Containers.RemoveAsync(_proxyContainer, cancellationToken);
        }

        await RemoveSecretWhenFreeAsync(_client, _secretId ?? SecretName, cancellationToken);
        await _swarm.RemoveNetworkWhenFreeAsync(InternalNetwork, cancellationToken);
        await _swarm.RemoveNetworkWhenFreeAsync(OutboundNetwork, cancellationToken);
    }

    /// <summary>
    /// The run secrets <paramref name="selector"/> matches (of owners that are gone when <paramref name="orphansOnly"/>):
    /// the run's removal and the orphan sweep call this after removing the services that used them.
    /// </summary>
    public static async Task RemoveSecretsAsync(DockerClient client, LabelSelector selector, bool orphansOnly, CancellationToken cancellationToken)
    {
        IList<Secret> secrets;
        try
        {
            secrets = await client.Secrets.ListAsync(cancellationToken);
        }
        catch (DockerApiException e)
        {
            throw Failure("listing the swarm's secrets", e);
        }

        foreach (var secret in secrets)
        {
            var labels = secret.Spec?.Labels is { } l ? new Dictionary<string, string>(l) : [];
            if (!selector.Matches(labels) || orphansOnly && !Labels.HasGoneOwner(labels))
            {
                continue;
            }

            await RemoveSecretWhenFreeAsync(client, secret.ID, cancellationToken);
        }
    }

    /// <summary>A secret is refused while a service still names it; the service's removal frees it a moment later.</summary>
    private static async Task RemoveSecretWhenFreeAsync(DockerClient client, string secret, CancellationToken cancellationToken)
    {
        string? refusal = null;
        var removed = await Platform.Poll.UntilAsync(
            async ct =>
            {
                try
                {
                    await client.Secrets.DeleteAsync(secret, ct);
                    return true;
                }
                catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.NotFound)
                {
                    return true;
                }
                catch (DockerApiException e)
                {
                    refusal = Failure($"removing the swarm secret {secret}", e).Message;
                    return false;
                }
            },
            TimeSpan.FromMilliseconds(200),
            TimeSpan.FromSeconds(20),
            cancellationToken);
        if (!removed)
        {
            throw new InvalidOperationException(refusal ?? $"removing the swarm secret {secret} did not finish");
        }
    }
}
