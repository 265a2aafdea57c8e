using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;

namespace SandboxRunner.Boxes.Swarm;

/// <summary>
/// The swarm backend's warm boxes: services of a task's shape already placed, their containers at the gate, so a task
/// whose shape has one skips swarm's create (~0.6 s, ~1.1 s with an overlay attach) on its critical path. Lazily: the
/// first box of a shape is cold; each take or cold create of a shape refills in the background, under
/// <see cref="WarmPoolPolicy"/>. A warm box is a <c>replicated</c> service of one replica that never restarts, labelled
/// with the runner's owner and role <see cref="Role"/> and nothing of a run, so no run's listing or removal sees it and
/// the node counts skip it. A task takes one by relabelling the service alone (its run, task, attempt, role and scope:
/// from then on every listing and removal finds it as a cold box; a change of its task template would restart its task,
/// so it is never touched). A refill that fails is logged and never fails a task.
/// </summary>
internal sealed partial class SwarmPool : IAsyncDisposable
{
    public const string Role = "warm";

    /// <summary>
    /// On a warm box's service and container: which backend's pool made it. Every backend of a process shares the owner
    /// label, and a taken box's container keeps the pool's labels, so a backend going removes by this one, never another
    /// backend's boxes (idle, or running a task).
    /// </summary>
    public const string PoolLabel = "sandbox-runner.pool";
    private static readonly TimeSpan ExpiryInterval = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan TakeBudget = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan FinishBudget = TimeSpan.FromSeconds(30);
    private readonly SwarmBackend _swarm;
    private readonly DockerClient _client;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _gate = new();
    private readonly List<Task> _background = [];
    private readonly ITimer _expiry;
    private bool _closing;

    public SwarmPool(SwarmBackend swarm, DockerClient client, ILogger logger, WarmPoolPolicy policy, TimeProvider? time = null)
    {
        _swarm = swarm;
        _client = client;
        _logger = logger;
        Policy = policy;
        _time = time ?? TimeProvider.System;
        _expiry = _time.CreateTimer(_ => Track(ExpireAsync()), null, ExpiryInterval, ExpiryInterval);
    }

    public WarmPoolPolicy Policy { get; }

    /// <summary>
    /// A warm box of <paramref name="key"/> on one of <paramref name="freeNodes"/>, now carrying <paramref name="labels"/>
    /// on its service (the caller holds the placement lease, so the next placement counts it); null when none is idle or
    /// the one taken turned out unusable (it is then removed, and the task goes cold).
    /// </summary>
    public async Task<WarmBox?> TakeAsync(string key, IReadOnlySet<string> freeNodes, IReadOnlyDictionary<string, string> labels, CancellationToken cancellationToken)
    {
        while (Policy.Take(key, freeNodes) is { } box)
        {
            if (await HandOverAsync(box, labels, cancellationToken))
            {
                return box;
            }
        }

        return null;
    }

    /// <summary>
    /// The box of <paramref name="claim"/> once made, handed over as by <see cref="TakeAsync"/>; null when making it
    /// failed or it turned out unusable. A task cancelled meanwhile leaves the box to the pool.
    /// </summary>
    public async Task<WarmBox?> AdoptAsync(WarmClaim claim, IReadOnlyDictionary<string, string> labels, CancellationToken cancellationToken)
    {
        WarmBox? box;
        try
        {
            box = await claim.Box.WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            Policy.Abandon(claim);
            throw;
        }

        if (box is not null && await HandOverAsync(box, labels, cancellationToken))
        {
            LogAdopted(Short(box.ServiceId));
            return box;
        }

        return null;
    }

    /// <summary>Relabels a warm box as the task's own; false (and the box removed) when its container no longer runs or its node does not answer.</summary>
    internal async Task<bool> HandOverAsync(WarmBox box, IReadOnlyDictionary<string, string> labels, CancellationToken cancellationToken)
    {
        // Bounded: a node that stopped answering (paused, cut off) must not hold its task's start; its box goes cold.
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        budget.CancelAfter(TakeBudget);
        try
        {
            var engine = await _swarm.Nodes.EngineAsync(box.NodeId, budget.Token);
            var spec = box.Spec;
            spec.Labels = new Dictionary<string, string>(labels);
            // Side by side: the relabel and a look that its container still waits at its gate.
            var relabel = _client.Swarm.UpdateServiceAsync(box.ServiceId, new ServiceUpdateParameters { Service = spec, Version = (long)box.Version }, budget.Token);
            var look = engine is null ? null : engine.Client.Containers.InspectContainerAsync(box.ContainerId, budget.Token);
            await Task.WhenAll(look is null ? [relabel] : [relabel, look]);
            if (look is not null && (await look).State is { Running: true })
            {
                LogTaken(Short(box.ServiceId), box.NodeId);
                return true;
            }

            LogUnusable(Short(box.ServiceId), "its container no longer runs");
        }
        catch (Exception e) when (e is not OutOfMemoryException && !cancellationToken.IsCancellationRequested)
        {
            // Whatever went wrong (an engine error, a node gone quiet, an answer that does not parse), the pool is only a
            // shortcut: the box goes and the task gets a cold one, never a failure of its own.
            LogUnusable(Short(box.ServiceId), e.Message);
        }
        catch (Exception) when (cancellationToken.IsCancellationRequested)
        {
            // The task went mid-hand-over: the box is out of the pool and its relabel may have reached the manager, so it
            // is neither the task's nor fit for another; removed, or it would run on unseen by the expiry and the bound.
            Track(RemoveQuietlyAsync(box));
            throw;
        }

        Track(RemoveQuietlyAsync(box));
        return false;
    }

    /// <summary>
    /// Starts warming boxes of <paramref name="key"/> in the background until the shape has as many as
    /// <see cref="WarmPoolPolicy.Wanted"/> (<see cref="WarmPoolPolicy.PlanRefill"/>), on every node that takes boxes, those with a free place first: a warm
    /// box takes no place, so one made on a full node waits there for a task of it to end. <paramref name="warm"/> makes
    /// one on a given node. Never throws.
    /// </summary>
    public void Refill(string key, Func<string, CancellationToken, Task<WarmBox>> warm)
    {
        if (Volatile.Read(ref _closing))
        {
            return;
        }

        // Wanted now, not after the node look: a box going is still counted in use, so the shape keeps its successor.
        Track(RefillAsync(key, Policy.Wanted(key), warm));
    }

    private async Task RefillAsync(string key, int wanted, Func<string, CancellationToken, Task<WarmBox>> warm)
    {
        IReadOnlyList<string> planned;
        try
        {
            var nodes = await _swarm.Nodes.ListAsync(_stopping.Token);
            planned = Policy.PlanRefill(key, nodes.Where(n => n.TakesBoxes).OrderBy(n => _swarm.Nodes.IsFree(n) ? 0 : 1).Select(n => n.Id).ToList(), wanted);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogRefillFailed("-", e.Message);
            return;
        }
        catch (OperationCanceledException)
        {
            return;
        }

        await Task.WhenAll(planned.Select(async node =>
        {
            try
            {
                var box = await warm(node, _stopping.Token);
                if (Volatile.Read(ref _closing))
                {
                    Policy.Failed(key, node);
                    await RemoveQuietlyAsync(box);
                    return;
                }

                Policy.Warmed(box);
                LogWarmed(Short(box.ServiceId), node);
            }
            catch (Exception e)
            {
                Policy.Failed(key, node);
                if (!Volatile.Read(ref _closing))
                {
                    LogRefillFailed(node, e.Message);
                }
            }
        }));
    }

    private async Task ExpireAsync()
    {
        foreach (var box in Policy.Expire(_time.GetUtcNow()))
        {
            await RemoveQuietlyAsync(box);
        }
    }

    private async Task RemoveQuietlyAsync(WarmBox box)
    {
        try
        {
            using var budget = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await _swarm.RemoveServiceAndContainerAsync(box.ServiceId, box.NodeId, box.ContainerId, budget.Token);
        }
        catch (Exception e)
        {
            // What is left carries the owner label: the backend's disposal or a later orphan sweep takes it.
            LogRefillFailed(box.NodeId, $"removing warm box {Short(box.ServiceId)}: {e.Message}");
        }
    }

    private void Track(Task task)
    {
        lock (_gate)
        {
            _background.RemoveAll(t => t.IsCompleted);
            _background.Add(task);
        }
    }

    /// <summary>
    /// Stops refilling, lets refills under way finish (bounded; then cancels them) so each box they made is removed whole
    /// (a create cancelled before its container is known leaves that container's volumes to swarm, which never removes
    /// them), and removes every idle box.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        Volatile.Write(ref _closing, true);
        await _expiry.DisposeAsync();
        Task[] running;
        lock (_gate)
        {
            running = [.. _background];
        }

        var all = Task.WhenAll(running).ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        if (await Task.WhenAny(all, Task.Delay(FinishBudget)) != all)
        {
            await _stopping.CancelAsync();
        }

        await all;
        await Task.WhenAll(Policy.Drain().Select(RemoveQuietlyAsync));
        _stopping.Dispose();
    }

    private static string Short(string id) => id.Length > 12 ? id[..12] : id;

    [LoggerMessage(Level = LogLevel.Debug, Message = "warm swarm box {Service} ready on node {Node}")]
    private partial void LogWarmed(string service, string node);

    [LoggerMessage(Level = LogLevel.Debug, Message = "a task took warm swarm box {Service} on node {Node}")]
    private partial void LogTaken(string service, string node);

    [LoggerMessage(Level = LogLevel.Debug, Message = "a task adopted warm swarm box {Service} as it was made, instead of making a second box on its node")]
    private partial void LogAdopted(string service);

    [LoggerMessage(Level = LogLevel.Warning, Message = "warm swarm box {Service} is not usable ({Reason}); removed, the task gets a cold box")]
    private partial void LogUnusable(string service, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "warming a swarm box on node {Node} failed ({Reason}); tasks of its shape get cold boxes meanwhile")]
    private partial void LogRefillFailed(string node, string reason);
}
