using Docker.DotNet;
using Docker.DotNet.Models;
using SandboxRunner.Boxes.Docker;
using static SandboxRunner.Boxes.Docker.DockerErrors;

namespace SandboxRunner.Boxes.Swarm;

/// <summary>A node as the runner sees it: swarm's view, the engine that reaches its boxes' files, and how many of the runner's boxes it runs.</summary>
internal sealed record SwarmNode(string Id, string Name, string State, string Availability, Uri? Engine, int Boxes, long NanoCpus, long MemoryBytes)
{
    public bool TakesBoxes => State == "ready" && Availability == "active" && Engine is not null;
}

/// <summary>
/// The swarm's nodes and their engines. Swarm places a box on any node it likes; the runner only narrows the
/// choice with <c>node.id!=</c> constraints: nodes whose engine it cannot reach (a box's tree goes in and its
/// changes come out through that engine's archive API) and nodes at <see cref="SwarmOptions.MaxTasksPerNode"/>.
/// </summary>
internal sealed class SwarmNodes(DockerClient manager, EngineConnection managerConnection, SwarmOptions options) : IDisposable
{
    private readonly Dictionary<string, NodeEngine> _engines = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _names = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _placement = new(1, 1);
    private readonly PlacementBook _book = new();
    private TaskCompletionSource _freed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private string? _managerNodeId;

    /// <summary>The manager's own node id; throws, naming the fix, when the engine is not a swarm manager.</summary>
    public async Task<string> ManagerNodeIdAsync(CancellationToken cancellationToken)
    {
        if (_managerNodeId is { } known)
        {
            return known;
        }

        var info = await manager.System.GetSystemInfoAsync(cancellationToken);
        if (info.Swarm is not { LocalNodeState: "active", ControlAvailable: true } swarm)
        {
            throw new InvalidOperationException(
                $"the Docker engine at {managerConnection} is not a swarm manager (swarm state: {info.Swarm?.LocalNodeState ?? "unknown"}); " +
                "`backend: swarm` needs DOCKER_HOST to name a manager (docker swarm init, see docs/swarm.md), or set `backend` to `docker`");
        }

        return _managerNodeId = swarm.NodeID;
    }

    /// <summary>
    /// Every node with the runner's boxes counted (services carrying <see cref="Labels.Owner"/> whose task is not
    /// finished); a run's egress proxy is no task and takes no task's place, nor does an idle warm box
    /// (<see cref="SwarmPool"/>: it counts once a task took it and relabelled it).
    /// </summary>
    public async Task<IReadOnlyList<SwarmNode>> ListAsync(CancellationToken cancellationToken)
    {
        var self = await ManagerNodeIdAsync(cancellationToken);
        // The nodes are read while the services and their tasks are: one round trip less on every placement look.
        var listing = manager.Swarm.ListNodesAsync(cancellationToken);
        var (services, tasks) = await SwarmServices.ReadWithTasksAsync(
            async ct => (await manager.Swarm.ListServicesAsync(new ServiceListParameters { Filters = LabelFilter(LabelSelector.Of(Labels.Owner)) }, ct))
                .Where(s => s.Spec?.Labels?.TryGetValue(Labels.Role, out var role) != true || role is not (SwarmEgress.Role or SwarmPool.Role)).ToList() as IList<SwarmService>,
            // By service, not desired state: a job's tasks are created desiring "complete", so a "running" filter missed every box.
            (ids, ct) => manager.Tasks.ListAsync(new TasksListParameters { Filters = new Dictionary<string, IDictionary<string, bool>> { ["service"] = ids.ToDictionary(id => id, _ => true) } }, ct),
            cancellationToken);
        var nodes = await listing;
        var ours = services.Select(s => s.ID).ToHashSet(StringComparer.Ordinal);
        var load = tasks.Where(t => ours.Contains(t.ServiceID ?? "") && !string.IsNullOrEmpty(t.NodeID) && !SwarmTasks.IsFinal(t))
            .GroupBy(t => t.NodeID!).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var listed = nodes.Select(n => new SwarmNode(
            n.ID,
            n.Description?.Hostname is { Length: > 0 } host ? host : n.ID,
            n.Status?.State ?? "unknown",
            n.Spec?.Availability ?? "unknown",
            n.ID == self ? managerConnection.Endpoint : EngineOf(n),
            load.GetValueOrDefault(n.ID),
            n.Description?.Resources?.NanoCPUs ?? 0,
            n.Description?.Resources?.MemoryBytes ?? 0)).ToList();
        lock (_gate)
        {
            foreach (var node in listed)
            {
                _names[node.Id] = node.Name;
            }
        }

        return listed;
    }

    /// <summary>A node's name as the last listing saw it (placement lists the nodes just before a box is made), else its id.</summary>
    public string NameOf(string nodeId)
    {
        lock (_gate)
        {
            return _names.GetValueOrDefault(nodeId, nodeId);
        }
    }

    private static Uri? EngineOf(NodeListResponse node) =>
        node.Spec?.Labels is { } labels && labels.TryGetValue(SwarmOptions.EngineLabel, out var endpoint) && Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) ? uri : null;

    /// <summary>
    /// The constraints that keep a new box off the nodes it may not go to, once some node may take it; waits (until
    /// cancelled) while every usable node is at the per-node cap. Held under one lock per process only until the box's
    /// service exists (<see cref="PlacementLease.Created"/>); from then until swarm gives it a node the lease's entry in
    /// the <see cref="PlacementBook"/> counts it, so creates overlap and two boxes never both take a node's last place
    /// (the count comes from swarm, so other runners count too, once placed).
    /// </summary>
    public async Task<PlacementLease> PlaceAsync(CancellationToken cancellationToken)
    {
        await _placement.WaitAsync(cancellationToken);
        try
        {
            IReadOnlyList<SwarmNode> nodes;
            HashSet<string> free;
            while (true)
            {
                // Armed before the look, so a box removed or placed while it runs is not missed; the book is read
                // before the listing, so a box placed in between is counted twice, never not at all.
                var freed = Volatile.Read(ref _freed).Task;
                var unplaced = _book.Unplaced();
                nodes = await ListAsync(cancellationToken);
                if (!nodes.Any(n => n.TakesBoxes))
                {
                    throw new InvalidOperationException(
                        "no node of the swarm can take a box: " + string.Join("; ", nodes.Select(n => $"{n.Name} is {n.State}/{n.Availability}{(n.Engine is null ? $" with no {SwarmOptions.EngineLabel} label" : "")}")) +
                        $"; give each worker its engine endpoint (docker node update --label-add {SwarmOptions.EngineLabel}=tcp://HOST:PORT NODE, see docs/swarm.md)");
                }

                free = nodes.Where(n => PlacementBook.IsFree(n, unplaced, options.MaxTasksPerNode)).Select(n => n.Id).ToHashSet(StringComparer.Ordinal);
                if (free.Count > 0)
                {
                    break;
                }

                // A place frees when one of this process's boxes goes or is placed (the look is repeated at once) or
                // another runner's goes (seen at the next look, every 500 ms).
                await Task.WhenAny(freed, Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken));
                cancellationToken.ThrowIfCancellationRequested();
            }

            var excluded = nodes.Where(n => !free.Contains(n.Id)).Select(n => n.Id).ToHashSet(StringComparer.Ordinal);
            return new PlacementLease(_placement, _book, _book.Book(excluded), nodes.Select(n => n.Id).ToList(), Freed)
            {
                Constraints = excluded.Select(id => $"node.id!={id}").ToList(),
                FreeNodes = free,
            };
        }
        catch
        {
            _placement.Release();
            throw;
        }
    }

    /// <summary>
    /// Why a box on a node's bridge could use that node's engine, one reason per node that takes boxes (the manager's
    /// own engine is the backend's to ask). Reached without TLS, every node engine is, as the runner would reach it that
    /// way. Over TLS, each is asked as an anonymous client, as a box would ask it: an engine that answers TLS clients
    /// without a certificate (<c>--tls</c> without <c>--tlsverify</c>) or also plain TCP on its host's port 2375 is named.
    /// </summary>
    public async Task<IReadOnlyList<string>> ExposedEnginesAsync(CancellationToken cancellationToken)
    {
        var nodes = (await ListAsync(cancellationToken)).Where(n => n.TakesBoxes && n.Engine != managerConnection.Endpoint).ToList();
        if (!managerConnection.UsesTls)
        {
            return nodes.Where(n => n.Engine is { Scheme: "tcp" or "http" })
                .Select(n => $"the engine of swarm node '{n.Name}' answers plain TCP at {n.Engine} without TLS; a box on that node's bridge could call it").ToList();
        }

        var probes = nodes.Select(async n => await EngineExposure.ProbeAsync(new EngineConnection(n.Engine!, managerConnection.CertPath), null, cancellationToken) is { } reason
            ? $"swarm node '{n.Name}': {reason}; a box on that node's bridge could call it"
            : null);
        return (await Task.WhenAll(probes)).OfType<string>().ToList();
    }

    /// <summary>One of this process's boxes is gone from the swarm: a placement waiting for a free place looks again now.</summary>
    public void Freed() => Interlocked.Exchange(ref _freed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    /// <summary>Whether <paramref name="node"/> takes a box now: usable, and under the per-node cap counting the boxes not placed yet (<see cref="PlacementBook"/>).</summary>
    public bool IsFree(SwarmNode node) => PlacementBook.IsFree(node, _book.Unplaced(), options.MaxTasksPerNode);

    /// <summary>The engine of <paramref name="nodeId"/>, to reach a box's container there; null when the runner cannot reach it.</summary>
    public async Task<NodeEngine?> EngineAsync(string nodeId, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_engines.TryGetValue(nodeId, out var known))
            {
                return known;
            }
        }

        var node = (await ListAsync(cancellationToken)).FirstOrDefault(n => n.Id == nodeId);
        if (node?.Engine is not { } endpoint)
        {
            return null;
        }

        lock (_gate)
        {
            if (!_engines.TryGetValue(nodeId, out var engine))
            {
                var connection = endpoint == managerConnection.Endpoint ? managerConnection : new EngineConnection(endpoint, managerConnection.CertPath);
                engine = new NodeEngine(new DockerBackend(Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, connection), connection.CreateClient());
                _engines[nodeId] = engine;
            }

            return engine;
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            foreach (var engine in _engines.Values)
            {
                engine.Backend.Dispose();
                engine.Client.Dispose();
            }

            _engines.Clear();
        }

        _placement.Dispose();
    }
}

/// <summary>A node's engine: the local backend's operations on its containers, and its client for what they do not cover (attach).</summary>
internal sealed record NodeEngine(DockerBackend Backend, DockerClient Client);

/// <summary>
/// The placement of one box: its constraints, the process's placement lock until the box's service exists
/// (<see cref="Created"/>: the next box may be created from then), and the box's entry in the
/// <see cref="PlacementBook"/> until swarm gave it a node or it was never made (dispose: swarm's listing counts it then).
/// </summary>
/// <param name="listed">The nodes the look saw (a box pinned to one is kept off all the others).</param>
/// <param name="freed">Tells waiting placements to look again (a booked box no longer counts where it did).</param>
internal sealed class PlacementLease(SemaphoreSlim gate, PlacementBook book, long entry, IReadOnlyList<string> listed, Action freed) : IDisposable
{
    private int _created;
    private int _disposed;

    public IReadOnlyList<string> Constraints { get; init; } = [];

    /// <summary>The nodes with a free place at the look (a warm box is taken only on one of them).</summary>
    public IReadOnlySet<string> FreeNodes { get; init; } = new HashSet<string>();

    /// <summary>The box will be on <paramref name="nodeId"/> (a warm box being made there): from now it counts against that node alone.</summary>
    public void PinTo(string nodeId)
    {
        book.Narrow(entry, listed.Where(id => id != nodeId).ToHashSet(StringComparer.Ordinal));
        freed();
    }

    /// <summary>The box's service exists: the placement lock goes, the book keeps counting the box until it is placed.</summary>
    public void Created()
    {
        if (Interlocked.Exchange(ref _created, 1) == 0)
        {
            gate.Release();
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            Created();
            if (book.Settle(entry))
            {
                freed();
            }
        }
    }
}
