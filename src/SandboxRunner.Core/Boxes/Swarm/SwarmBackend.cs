using System.Globalization;
using System.Net;
using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;
using SandboxRunner.Boxes.Docker;
using static SandboxRunner.Boxes.Docker.DockerErrors;

namespace SandboxRunner.Boxes.Swarm;

/// <summary>
/// The swarm backend: boxes as one-task <c>replicated-job</c> services on a Docker swarm, scheduled by swarm, over
/// the manager's service API (the engine DOCKER_HOST names, or the local one). Images reach the nodes through a
/// registry (<see cref="SwarmImages"/>); a box's files, output and kill go through its node's engine
/// (<see cref="SwarmNodes"/>), so nothing of the local backend's handling of untrusted output changes. Everything it
/// creates (services, networks, markers) carries the runner's labels.
/// </summary>
public sealed partial class SwarmBackend : ITaskBackend
{
    private static readonly TimeSpan StartDeadline = TimeSpan.FromMinutes(5);
    private readonly DockerBackend _manager;
    private readonly DockerClient _client;
    private readonly ResourceLabels _labels;
    private readonly ILogger _logger;
    private readonly SwarmImages _images;
    private readonly SwarmParking _parking;
    private readonly SwarmPool _pool;
    private readonly Dictionary<string, string> _warmLabels;
    private readonly string _poolId = Guid.NewGuid().ToString("N")[..16];

    public SwarmBackend(ILogger logger, EngineConnection manager, SwarmOptions options, IReadOnlyDictionary<string, string>? extraLabels = null)
    {
        _logger = logger;
        _manager = new DockerBackend(logger, manager, extraLabels);
        _client = manager.CreateClient();
        _labels = new ResourceLabels(extraLabels);
        Options = options;
        Nodes = new SwarmNodes(_client, manager, options);
        var login = new RegistryLogin(options.Registry, manager.ConfigFolder);
        Services = new SwarmServices(_client, login, logger);
        Markers = new SwarmMarkers(_client);
        _images = new SwarmImages(_manager.Images, _client, options, login, logger) { Nodes = Nodes };
        _parking = new SwarmParking(_client, _labels);
        _warmLabels = _labels.StampOwned(new Dictionary<string, string> { [Labels.Role] = SwarmPool.Role, [SwarmPool.PoolLabel] = _poolId });
        _pool = new SwarmPool(this, _client, logger, new WarmPoolPolicy(options.WarmBoxes, WarmIdleTime));
    }

    /// <summary>How long a warm box waits for a task before it goes: a burst of runs keeps it, an idle runner holds none for long.</summary>
    internal static readonly TimeSpan WarmIdleTime = TimeSpan.FromMinutes(2);

    /// <summary>The pool of warm boxes (<see cref="SwarmPool"/>).</summary>
    internal SwarmPool Pool => _pool;

    public string Name => "swarm";

    public SwarmOptions Options { get; }

    /// <summary>
    /// Boxes run commands (exec through their node's engine) and are committed as images on their node and brought to
    /// the manager through the registry (<see cref="SwarmImages"/>); they cannot name an OCI runtime (the service API
    /// has no such field). Allowlist sites: <see cref="SwarmEgress"/>.
    /// </summary>
    public BackendCapabilities Capabilities { get; } = new(Snapshots: true, Exec: true, Runtimes: false, Allowlist: true);

    public IBoxImages Images => _images;

    internal SwarmNodes Nodes { get; }

    internal SwarmServices Services { get; }

    internal SwarmMarkers Markers { get; }

    /// <summary>The name of the overlay where this backend's <c>none</c> boxes wait to be taken off every network.</summary>
    internal string ParkingNetwork => _parking.Name;

    public async Task<BackendFacts> DescribeAsync(CancellationToken cancellationToken)
    {
        var (version, api) = await _manager.PingAsync(cancellationToken);
        var nodes = await Nodes.ListAsync(cancellationToken);
        return new BackendFacts(version, api, await _manager.RuntimesAsync(cancellationToken))
        {
            Nodes = nodes.Select(n => new BackendNode(n.Name, Describe(n)) { TakesBoxes = n.TakesBoxes }).ToList(),
        };
    }

    private string Describe(SwarmNode node)
    {
        var free = Options.MaxTasksPerNode is { } cap ? $"{Math.Max(0, cap - node.Boxes)} of {cap} task places free" : $"{node.Boxes} task(s) running";
        var engine = node.Engine is null ? $"no {SwarmOptions.EngineLabel} label: takes no task" : $"engine {node.Engine}";
        return string.Create(
            CultureInfo.InvariantCulture,
            $"{node.State}, {node.Availability}, {free}, {node.NanoCpus / 1e9:0.#} CPUs, {node.MemoryBytes / (1024.0 * 1024 * 1024):0.#} GiB, {engine}");
    }

    /// <summary>Never: a box's node has files of its own, so its tree goes in and out through the archive API (the copy transport).</summary>
    public Task<bool> SharesHostFilesAsync(string image, CancellationToken cancellationToken) => Task.FromResult(false);

    /// <summary>
    /// A box on the open network sits on its node's bridge, from where a node engine listening on plain TCP answers
    /// anyone: such an engine (or the manager's own exposure) refuses the open network.
    /// </summary>
    /// <summary>Every engine a box could call: the manager's own finding and each node engine's (<see cref="SwarmNodes.ExposedEnginesAsync"/>), all named.</summary>
    public async Task<string?> ExposedApiAsync(CancellationToken cancellationToken)
    {
        var reasons = new List<string>();
        if (await _manager.ExposedApiAsync(cancellationToken) is { } exposed)
        {
            reasons.Add(exposed);
        }

        reasons.AddRange(await Nodes.ExposedEnginesAsync(cancellationToken));

        return reasons.Count == 0 ? null : string.Join("; ", reasons);
    }

    public async Task<IRunSite> OpenRunSiteAsync(RunSiteSpec spec, CancellationToken cancellationToken)
    {
        await Nodes.ManagerNodeIdAsync(cancellationToken);
        SwarmEgress? egress = null;
        if (spec.Network == NetworkIntent.Allowlist)
        {
            var wanted = spec.Egress ?? throw new InvalidOperationException("an allowlist site needs its egress (proxy image, allowlist, model route)");
            egress = new SwarmEgress(this, _client, _images, wanted, _labels.StampOwned(Labels.For(spec.Scope, spec.RunId, new BoxIdentity(null))));
        }

        var site = new SwarmRunSite(this, spec, egress);
        try
        {
            await site.OpenAsync(cancellationToken);
        }
        catch
        {
            await site.DisposeAsync();
            throw;
        }

        return site;
    }

    /// <summary>
    /// Removes an overlay network once no task uses it: a removed service's container goes from its node a moment
    /// later, and the network is refused until then. Never throws; what is left goes with its run or as an orphan.
    /// </summary>
    internal async Task RemoveNetworkWhenFreeAsync(string name, CancellationToken cancellationToken)
    {
        try
        {
            await Platform.Poll.UntilAsync(
                async ct =>
                {
                    try
                    {
                        await _client.Networks.DeleteNetworkAsync(name, ct);
                        return true;
                    }
                    catch (DockerNetworkNotFoundException)
                    {
                        return true;
                    }
                    catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.NotFound)
                    {
                        return true;
                    }
                    catch (DockerApiException)
                    {
                        return false;
                    }
                },
                TimeSpan.FromMilliseconds(200),
                TimeSpan.FromSeconds(20),
                cancellationToken);
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async Task<int> RemoveRunAsync(BoxScope scope, string runId, CancellationToken cancellationToken) =>
        await RemoveAsync(LabelSelector.Of(scope, runId), orphansOnly: false, cancellationToken);

    public async Task<int> RemoveOrphansAsync(BoxScope scope, CancellationToken cancellationToken)
    {
        var removed = await RemoveAsync(LabelSelector.Of(scope, null).And(Labels.Owner), orphansOnly: true, cancellationToken);

        // Probes carry no repository or run, so no scope selects them; a dead owner's are garbage to every sweep (and
        // not counted: they are no scope's), as on the local backend.
        foreach (var service in await Services.ListAsync(LabelSelector.Of(Labels.Role).And(Labels.Owner), cancellationToken))
        {
            if (service.Spec?.Labels is { } labels && Labels.IsOrphanedProbe(labels.AsReadOnly()))
            {
                await Services.RemoveAsync(service.ID, cancellationToken);
            }
        }

        // Warm boxes carry no repository either: a dead owner's go with every sweep, their containers by their own labels.
        await RemoveBoxesAsync(LabelSelector.Of(Labels.Role, SwarmPool.Role).And(Labels.Owner), Labels.HasGoneOwner, cancellationToken);

        var parking = await _client.Networks.ListNetworksAsync(new NetworksListParameters { Filters = LabelFilter(LabelSelector.Of(Labels.Role, SwarmParking.Role).And(Labels.Owner)) }, cancellationToken);
        foreach (var network in parking.Where(SwarmParking.IsOrphaned))
        {
            await RemoveNetworkWhenFreeAsync(network.ID, cancellationToken);
        }

        if (removed > 0)
        {
            LogOrphansRemoved(removed);
        }

        return removed;
    }

    /// <summary>Services first, then what their containers left on the nodes, markers and secrets, then networks once free; returns how many services.</summary>
    private async Task<int> RemoveAsync(LabelSelector selector, bool orphansOnly, CancellationToken cancellationToken)
    {
        var removed = await RemoveBoxesAsync(selector, orphansOnly ? Labels.HasGoneOwner : _ => true, cancellationToken);
        await Markers.RemoveAsync(selector, orphansOnly, cancellationToken);
        await SwarmEgress.RemoveSecretsAsync(_client, selector, orphansOnly, cancellationToken);
        var networks = await _client.Networks.ListNetworksAsync(new NetworksListParameters { Filters = LabelFilter(selector) }, cancellationToken);
        foreach (var network in networks.Where(n => n.Scope == "swarm" && (!orphansOnly || Labels.HasGoneOwner(n.Labels))))
        {
            await RemoveNetworkWhenFreeAsync(network.Name, cancellationToken);
        }

        return removed;
    }

    /// <summary>
    /// The selected services whose labels <paramref name="take"/> accepts, with their tasks' containers, and then every
    /// selected container it accepts on the nodes: after the services, since a service removed makes no new container,
    /// so nothing started meanwhile is missed. Returns how many services.
    /// </summary>
    private async Task<int> RemoveBoxesAsync(LabelSelector selector, Func<IDictionary<string, string>?, bool> take, CancellationToken cancellationToken)
    {
        var (services, tasks) = await Services.ListWithTasksAsync(selector, cancellationToken);
        var removed = await RemoveServicesAsync(services.Where(s => take(s.Spec?.Labels)).ToList(), tasks, cancellationToken);
        await RemoveNodeContainersAsync(selector, take, cancellationToken);
        return removed;
    }

    /// <summary>
    /// Removes <paramref name="services"/> and then, through their nodes' engines, their tasks' containers with their
    /// volumes: a warm box a task took keeps the pool's labels on its container (a running container cannot be
    /// relabelled), so no sweep by a run's labels would find it; its service's task names it. Returns how many services.
    /// </summary>
    private async Task<int> RemoveServicesAsync(IReadOnlyList<SwarmService> services, IList<TaskResponse> tasks, CancellationToken cancellationToken)
    {
        foreach (var service in services)
        {
            await Services.RemoveAsync(service.ID, cancellationToken);
        }

        var ids = services.Select(s => s.ID).ToHashSet(StringComparer.Ordinal);
        foreach (var task in tasks.Where(t => ids.Contains(t.ServiceID ?? "") && !string.IsNullOrEmpty(t.NodeID) && !string.IsNullOrEmpty(t.Status?.ContainerStatus?.ContainerID)))
        {
            // Bounded per node: one that stopped answering keeps its container for a later removal by label.
            using var budget = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            budget.CancelAfter(TimeSpan.FromSeconds(15));
            try
            {
                if (await Nodes.EngineAsync(task.NodeID!, budget.Token) is { } engine)
                {
                    await engine.Backend.Containers.RemoveAsync(task.Status!.ContainerStatus!.ContainerID!, budget.Token);
                }
            }
            catch (Exception e) when (e is DockerApiException or HttpRequestException or IOException or TimeoutException
                || e is OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                LogNodeSweepFailed(Nodes.NameOf(task.NodeID!), e.Message);
            }
        }

        if (services.Count > 0)
        {
            Nodes.Freed();
        }

        return services.Count;
    }

    /// <summary>
    /// The selected boxes' and proxies' containers, with their volumes, on every node the runner reaches: swarm removes a
    /// removed service's container late (and with it the node's copy of the run's overlay) and leaves its anonymous
    /// volumes. A node that does not answer keeps them for a later removal by label.
    /// </summary>
    private async Task RemoveNodeContainersAsync(LabelSelector selector, Func<IDictionary<string, string>?, bool> take, CancellationToken cancellationToken)
    {
        foreach (var node in (await Nodes.ListAsync(cancellationToken)).Where(n => n.State == "ready"))
        {
            try
            {
                if (await Nodes.EngineAsync(node.Id, cancellationToken) is not { } engine)
                {
                    continue;
                }

                foreach (var container in await engine.Backend.Containers.ListAsync(selector, cancellationToken))
                {
                    if (take(container.Labels))
                    {
                        await engine.Backend.Containers.RemoveAsync(container.ID, cancellationToken);
                    }
                }
            }
            catch (Exception e) when (e is DockerApiException or HttpRequestException or IOException or TimeoutException)
            {
                LogNodeSweepFailed(node.Name, e.Message);
            }
        }
    }

    public async Task<IReadOnlyList<BoxRef>> FindBoxesAsync(BoxScope scope, string? runId, CancellationToken cancellationToken)
    {
        var (services, listed) = await Services.ListWithTasksAsync(LabelSelector.Of(scope, runId), cancellationToken);
        if (services.Count == 0)
        {
            return [];
        }

        var tasks = listed
            .GroupBy(t => t.ServiceID ?? "").ToDictionary(g => g.Key, g => g.OrderByDescending(t => t.CreatedAt).First(), StringComparer.Ordinal);
        var started = await Markers.StartedAsync(cancellationToken);
        var nodes = (await Nodes.ListAsync(cancellationToken)).ToDictionary(n => n.Id, n => n.Name, StringComparer.Ordinal);
        return services.Select(s =>
        {
            var labels = s.Spec?.Labels is { } l ? new Dictionary<string, string>(l) : [];
            var task = tasks.GetValueOrDefault(s.ID);
            var running = task is not null && !SwarmTasks.IsFinal(task) && started.Contains(s.ID);
            return new BoxRef(s.ID, labels.GetValueOrDefault(Labels.Run), labels.GetValueOrDefault(Labels.Task), labels.GetValueOrDefault(Labels.Role), running)
            {
                Node = task?.NodeID is { Length: > 0 } node ? nodes.GetValueOrDefault(node, node) : null,
                Labels = labels,
            };
        }).ToList();
    }

    public async ValueTask DisposeAsync()
    {
        await _pool.DisposeAsync();
        using (var budget = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
        {
            // What the pool could not remove itself (a refill cancelled mid-create): this backend's warm services, by label
            // (not the process's: another backend's taken boxes keep the warm labels on their running containers).
            try
            {
                await RemoveBoxesAsync(LabelSelector.Of(Labels.Role, SwarmPool.Role).And(Labels.Owner, Labels.CurrentOwner).And(SwarmPool.PoolLabel, _poolId), _ => true, budget.Token);
            }
            catch (Exception e) when (e is DockerApiException or HttpRequestException or IOException or OperationCanceledException or InvalidOperationException)
            {
                LogNodeSweepFailed("-", e.Message);
            }
        }

        using (var budget = new CancellationTokenSource(TimeSpan.FromSeconds(20)))
        {
            await _parking.RemoveAsync(this, budget.Token);
        }

        _parking.Dispose();
        Nodes.Dispose();
        _client.Dispose();
        _manager.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "swarm placed box {Service} of task {Task} on node {Node}")]
    private partial void LogPlaced(string service, string node, string task);

    [LoggerMessage(Level = LogLevel.Warning, Message = "removing the runner's containers on swarm node {Node} failed ({Reason}); a later removal by label takes them")]
    private partial void LogNodeSweepFailed(string node, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "removed {Count} swarm service(s) left by a runner process that is gone")]
    private partial void LogOrphansRemoved(int count);
}
