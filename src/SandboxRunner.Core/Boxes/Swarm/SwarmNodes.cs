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
    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _placement = new(1, 1);
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
    /// finished); a run's egress proxy is no task and takes no task's place.
    /// </summary>
    public async Task<IReadOnlyList<SwarmNode>> ListAsync(CancellationToken cancellationToken)
    {
        var self = await ManagerNodeIdAsync(cancellationToken);
        var nodes = await manager.Swarm.ListNodesAsync(cancellationToken);
        HashSet<string> ours;
        IList<TaskResponse> tasks;
        for (var attempt = 1; ; attempt++)
        {
            ours = (await manager.Swarm.ListServicesAsync(
                new ServiceListParameters { Filters = LabelFilter(LabelSelector.Of(Labels.Owner)) }, cancellationToken))
                .Where(s => s.Spec?.Labels?.TryGetValue(Labels.Role, out var role) != true || role != SwarmEgress.Role).Select(s => s.ID).ToHashSet(StringComparer.Ordinal);
            try
            {
                tasks = ours.Count == 0
                    ? []
                    // By service, not desired state: a job's tasks are created desiring "complete", so a "running" filter missed every box.
                    : await manager.Tasks.ListAsync(new TasksListParameters { Filters = new Dictionary<string, IDictionary<string, bool>> { ["service"] = ours.ToDictionary(id => id, _ => true) } }, cancellationToken);
                break;
            }
            catch (DockerApiException e) when (e.StatusCode == System.Net.HttpStatusCode.NotFound && attempt < 5)
            {
                // A sibling's service was removed between the two calls (20.10 answers a task filter naming a gone
                // service with 404): the services are read again, without it. Seen as tasks failing with "runner error:
                // service ... not found" while others waited for a place (bench `swarm`, one node).
            }
        }

        var load = tasks.Where(t => ours.Contains(t.ServiceID ?? "") && !string.IsNullOrEmpty(t.NodeID) && !SwarmTasks.IsFinal(t))
            .GroupBy(t => t.NodeID!).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        return nodes.Select(n => new SwarmNode(
            n.ID,
            n.Description?.Hostname is { Length: > 0 } host ? host : n.ID,
            n.Status?.State ?? "unknown",
            n.Spec?.Availability ?? "unknown",
            n.ID == self ? managerConnection.Endpoint : EngineOf(n),
            load.GetValueOrDefault(n.ID),
            n.Description?.Resources?.NanoCPUs ?? 0,
            n.Description?.Resources?.MemoryBytes ?? 0)).ToList();
    }

    private static Uri? EngineOf(NodeListResponse node) =>
        node.Spec?.Labels is { } labels && labels.TryGetValue(SwarmOptions.EngineLabel, out var endpoint) && Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) ? uri : null;

    /// <summary>
    /// The constraints that keep a new box off the nodes it may not go to, once some node may take it; waits (until
    /// cancelled) while every usable node is at the per-node cap. Held under one lock per process so two boxes
    /// created at once do not both take a node's last place (the count comes from swarm, so other runners count too).
    /// </summary>
    public async Task<PlacementLease> PlaceAsync(CancellationToken cancellationToken)
    {
        await _placement.WaitAsync(cancellationToken);
        try
        {
            IReadOnlyList<SwarmNode> nodes = [];
            await Platform.Poll.UntilAsync(
                async ct =>
                {
                    nodes = await ListAsync(ct);
                    if (!nodes.Any(n => n.TakesBoxes))
                    {
                        throw new InvalidOperationException(
                            "no node of the swarm can take a box: " + string.Join("; ", nodes.Select(n => $"{n.Name} is {n.State}/{n.Availability}{(n.Engine is null ? $" with no {SwarmOptions.EngineLabel} label" : "")}")) +
                            $"; give each worker its engine endpoint (docker node update --label-add {SwarmOptions.EngineLabel}=tcp://HOST:PORT NODE, see docs/swarm.md)");
                    }

                    return nodes.Any(Free);
                },
                TimeSpan.FromMilliseconds(500),
                Timeout.InfiniteTimeSpan,
                cancellationToken);

            return new PlacementLease(_placement, nodes.Where(n => !Free(n)).Select(n => $"node.id!={n.Id}").ToList());
        }
        catch
        {
            _placement.Release();
            throw;
        }
    }

    private bool Free(SwarmNode node) => node.TakesBoxes && (options.MaxTasksPerNode is not { } cap || node.Boxes < cap);

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
/// The placement constraints of one box, holding the process's placement lock until the box's service exists (so
/// the next box counts it): dispose right after creating the service.
/// </summary>
internal sealed class PlacementLease(SemaphoreSlim gate, IReadOnlyList<string> constraints) : IDisposable
{
    private int _released;

    public IReadOnlyList<string> Constraints { get; } = constraints;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0)
        {
            gate.Release();
        }
    }
}
