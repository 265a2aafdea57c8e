using System.Text.Json;
using Docker.DotNet.Models;
using static SandboxRunner.Boxes.Docker.DockerErrors;

namespace SandboxRunner.Boxes.Swarm;

/// <summary>Making a box: a warm one of its shape when the pool has one on a node with a free place, else a cold one.</summary>
public sealed partial class SwarmBackend
{
    internal async Task<ITaskBox> CreateBoxAsync(RunSiteSpec site, BoxSpec box, SwarmEgress? egress, CancellationToken cancellationToken)
    {
        var labels = _labels.StampOwned(Labels.For(site.Scope, site.RunId, box.Identity));
        // Three independent looks at the manager, side by side: each is a round trip on the box's start path.
        var publishing = _images.PinnedAsync(box.Image, cancellationToken);
        var reading = _images.DefaultsAsync(box.Image, cancellationToken);
        var parked = site.Network == NetworkIntent.None;
        var parking = parked ? _parking.EnsureAsync(cancellationToken) : Task.FromResult("");
        await Task.WhenAll(publishing, reading, parking).ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        var image = await publishing;
        var defaults = await reading;
        // Made now, so a name or value the gate cannot carry is refused before anything is made.
        var script = SwarmGate.Script(ServiceSpecs.LaunchOf(box, defaults));
        var networks = parked ? [await parking] : egress is not null ? [egress.InternalNetwork] : Array.Empty<string>();
        var dns = egress is null ? null : SwarmEgress.BoxDns;
        // The shape (and its key, a serialised task template) only for a box the pool may serve.
        var shape = Options.WarmBoxes > 0 && Poolable(site, box, defaults) ? new Shape(box, image, defaults, networks, dns, parked) : null;
        string? serviceId = null;
        var (cold, made) = (false, false);
        var lease = await Nodes.PlaceAsync(cancellationToken);
        try
        {
            if (shape is not null)
            {
                WarmBox? warm;
                (warm, lease) = await TakeWarmAsync(shape.Key, lease, labels, cancellationToken);
                if (warm is null && _pool.Policy.Claim(shape.Key, lease.FreeNodes) is { } claim)
                {
                    // A box of this shape is being made on a free node (the refill after a box went): wait for it, the
                    // other placements going on meanwhile, rather than make a second box beside it on that node (bench
                    // `swarm`: in a fan-out every freed place was taken cold while its refill was made next to it).
                    lease.PinTo(claim.NodeId);
                    lease.Created();
                    warm = await _pool.AdoptAsync(claim, labels, cancellationToken);
                    if (warm is null)
                    {
                        lease.Dispose();
                        lease = await Nodes.PlaceAsync(cancellationToken);
                    }
                }

                if (warm is not null)
                {
                    lease.Dispose();
                    serviceId = warm.ServiceId;
                    var engine = await Nodes.EngineAsync(warm.NodeId, cancellationToken)
                        ?? throw new InvalidOperationException($"the warm box's node {warm.NodeId} has no engine the runner reaches");
                    _pool.Policy.Using(shape.Key);
                    // No refill while the shape has a spare box: one made while this task runs competes with it for its
                    // node's CPU (bench `swarm`: a refill on every take ran beside every task); the box's going refills
                    // (OnGone). A take that leaves none refills now, so a fan-out's next wave finds its boxes made.
                    if (!_pool.Policy.HasSpare(shape.Key))
                    {
                        Refill(shape);
                    }

                    return await PlacedAsync(
                        new SwarmTaskBox(this, warm.ServiceId, warm.NodeId, Nodes.NameOf(warm.NodeId), engine, warm.ContainerId, labels, script) { Warm = true, OnGone = () => Gone(shape) },
                        box,
                        cancellationToken);
                }
            }

            if (shape is not null)
            {
                cold = true;
                _pool.Policy.ColdStarted(shape.Key);
            }

            var spec = ServiceSpecs.For(box, "sandbox-runner-" + Guid.NewGuid().ToString("N")[..16], image, defaults, labels, networks, lease.Constraints, dns);

            // The create itself is not cancelled: cancelled mid-flight, the manager may create a service whose id never reaches us.
            using var budget = new CancellationTokenSource(StartDeadline + TimeSpan.FromSeconds(30));
            serviceId = await Services.CreateAsync(spec, budget.Token);
            lease.Created();
            var (nodeId, started, containerId) = await StartAsync(serviceId, parked, lease.Dispose, budget.Token);
            if (shape is not null)
            {
                _pool.Policy.Using(shape.Key);
            }

            var created = await PlacedAsync(new SwarmTaskBox(this, serviceId, nodeId, Nodes.NameOf(nodeId), started, containerId, labels, script)
            {
                OnGone = shape is null ? null : () => Gone(shape),
            }, box, cancellationToken);
            made = true;
            return created;
        }
        catch (Exception) when (serviceId is null || !cancellationToken.IsCancellationRequested)
        {
            using var cleanup = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            if (serviceId is not null)
            {
                await Services.RemoveAsync(serviceId, cleanup.Token);
            }

            throw;
        }
        finally
        {
            lease.Dispose();

            // The shape refills once the last of a burst of cold creates is done: warm boxes made beside the burst's
            // own creates slowed every one of them (bench `swarm`, a fan-out's first wave), and are needed only later.
            if (cold && _pool.Policy.ColdEnded(shape!.Key) && made)
            {
                Refill(shape);
            }
        }
    }

    /// <summary>
    /// A warm box of <paramref name="key"/> on one of the lease's free nodes, handed over to the task; null when the pool has
    /// none (or only unusable ones), with the lease to go on with (a new one when a hand-over failed). The box is picked under
    /// the placement lock and handed over outside it: its place is booked on its node (<see cref="PlacementLease.PinTo"/>)
    /// until its relabel lets swarm's listing count it, so the next task's placement need not wait for that relabel (bench
    /// `swarm`: a wave of 8 tasks started one relabel after another, 2.5 s for the 8th).
    /// </summary>
    internal async Task<(WarmBox? Warm, PlacementLease Lease)> TakeWarmAsync(
        string key, PlacementLease lease, IReadOnlyDictionary<string, string> labels, CancellationToken cancellationToken)
    {
        try
        {
            while (_pool.Policy.Take(key, lease.FreeNodes) is { } picked)
            {
                lease.PinTo(picked.NodeId);
                lease.Created();
                if (await _pool.HandOverAsync(picked, labels, cancellationToken))
                {
                    return (picked, lease);
                }

                // Unusable (and removed): its booked place goes back, and the task places again from a fresh look.
                lease.Dispose();
                lease = await Nodes.PlaceAsync(cancellationToken);
            }

            return (null, lease);
        }
        catch
        {
            // A lease of this method's own (after a failed hand-over) is the caller's to settle only once returned.
            lease.Dispose();
            throw;
        }
    }

    private async Task<SwarmTaskBox> PlacedAsync(SwarmTaskBox box, BoxSpec spec, CancellationToken cancellationToken)
    {
        LogPlaced(Short(box.Id), box.Node ?? box.NodeId, spec.Identity.TaskId ?? "-");
        if (cancellationToken.IsCancellationRequested)
        {
            await box.DisposeAsync();
            cancellationToken.ThrowIfCancellationRequested();
        }

        return box;
    }

    /// <summary>
    /// Only the runner's own task image is pooled (an image with no runner role, as a configured one, or role
    /// <c>task</c>): a warm box's gate runs the image's <c>sh</c> before any task is known, and under <c>allow</c> on its
    /// node's bridge, so an environment's or a run's image (whose contents a setup made) never runs ahead. Only task
    /// boxes (not verify, setup or probes), and not on an allowlist site (its overlay exists only once the run does).
    /// </summary>
    private static bool Poolable(RunSiteSpec site, BoxSpec box, ServiceSpecs.ImageDefaults defaults) =>
        box.Identity.Purpose == BoxPurpose.Task && site.Network != NetworkIntent.Allowlist && defaults.Role is null or ImageRoles.Task;

    /// <summary>Waits until the service's task runs at its gate on a node the runner reaches; a <c>none</c> box is then taken off the parking overlay.</summary>
    private async Task<(string NodeId, NodeEngine Engine, string ContainerId)> StartAsync(string serviceId, bool parked, Action onPlaced, CancellationToken cancellationToken)
    {
        var task = await Services.WaitForContainerAsync(serviceId, StartDeadline, onPlaced, cancellationToken);
        var nodeId = task.NodeID!;
        var engine = await Nodes.EngineAsync(nodeId, cancellationToken)
            ?? throw new InvalidOperationException($"swarm placed the box on node {nodeId}, whose engine the runner cannot reach");
        var containerId = task.Status!.ContainerStatus!.ContainerID!;
        if (parked)
        {
            await _parking.DisconnectAsync(engine, containerId, cancellationToken);
        }

        return (nodeId, engine, containerId);
    }

    /// <summary>A box of <paramref name="shape"/> is gone: the pool tops the shape up to what it wanted with the box in use (its node has a free place now), then counts one fewer in use.</summary>
    private void Gone(Shape shape)
    {
        Refill(shape);
        _pool.Policy.Released(shape.Key);
    }

    private void Refill(Shape shape) => _pool.Refill(shape.Key, async (node, cancellationToken) =>
    {
        var spec = ServiceSpecs.For(
            shape.Box, "sandbox-runner-warm-" + Guid.NewGuid().ToString("N")[..16], shape.Image, shape.Defaults, _warmLabels, shape.Networks, [$"node.id=={node}"], shape.Dns, warm: true);
        var id = await Services.CreateAsync(spec, cancellationToken);
        (string NodeId, string ContainerId)? placed = null;
        try
        {
            var task = await Services.WaitForContainerAsync(id, StartDeadline, () => { }, cancellationToken);
            placed = (task.NodeID!, task.Status!.ContainerStatus!.ContainerID!);
            var (nodeId, _, containerId) = await StartAsync(id, shape.Parked, () => { }, cancellationToken);
            var held = await _client.Swarm.InspectServiceAsync(id, cancellationToken);
            return new WarmBox(shape.Key, id, nodeId, containerId, DateTimeOffset.UtcNow, held.Spec ?? spec, held.Version?.Index ?? throw new InvalidOperationException($"the manager gave warm service {id} no version"));
        }
        catch
        {
            // The container too, with its volumes, once known: swarm would remove it later but never its anonymous volumes.
            using var cleanup = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            if (placed is { } where)
            {
                await RemoveServiceAndContainerAsync(id, where.NodeId, where.ContainerId, cleanup.Token);
            }
            else
            {
                await Services.RemoveAsync(id, cleanup.Token);
            }

            throw;
        }
    });

    /// <summary>
    /// Removes a box's container with its volumes on its node (when reached, within 15 s), then its service, also when
    /// the node failed: a service left would keep a warm box running outside the pool (swarm takes the container once
    /// its node answers; its volumes stay for a sweep by label).
    /// </summary>
    internal async Task RemoveServiceAndContainerAsync(string serviceId, string nodeId, string containerId, CancellationToken cancellationToken)
    {
        try
        {
            using var node = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            node.CancelAfter(TimeSpan.FromSeconds(15));
            if (await Nodes.EngineAsync(nodeId, node.Token) is { } engine)
            {
                await engine.Backend.Containers.RemoveAsync(containerId, node.Token);
            }
        }
        finally
        {
            await Services.RemoveAsync(serviceId, cancellationToken);
        }
    }

    /// <summary>What a box of one shape is made from, and the pool key that names the shape.</summary>
    private sealed record Shape(BoxSpec Box, string Image, ServiceSpecs.ImageDefaults Defaults, IReadOnlyList<string> Networks, DNSConfig? Dns, bool Parked)
    {
        /// <summary>
        /// The service's task template with nothing of a task in it (no labels, no placement): image by digest, user,
        /// folder, limits, read-only root, init, capabilities, mounts, DNS, log options and networks. Two boxes whose
        /// templates match here are interchangeable until the gate opens.
        /// </summary>
        public string Key { get; } = (Parked ? "none:" : "open:") + JsonSerializer.Serialize(
            ServiceSpecs.For(Box, "", Image, Defaults, new Dictionary<string, string>(), Networks, [], Dns, warm: true).TaskTemplate);
    }
}
