namespace SandboxRunner.Boxes.Swarm;

/// <summary>A warm box: a placed service of one shape whose container waits at its gate on a node, handed to no task yet.</summary>
/// <param name="Spec">The service's spec as the manager holds it, and its <paramref name="Version"/>: what a label-only update sends back.</param>
internal sealed record WarmBox(string Key, string ServiceId, string NodeId, string ContainerId, DateTimeOffset Warmed, global::Docker.DotNet.Models.ServiceSpec Spec, ulong Version);

/// <summary>
/// Which warm boxes the swarm backend keeps, with no I/O (<see cref="SwarmPool"/> does the creating and removing):
/// per shape (the pool key) at most one box per node that has a free task place, at most <see cref="MaxWarm"/> in all
/// (made or being made), none idle longer than <see cref="IdleTime"/>. A box taken leaves the pool for good: it is
/// handed to one task and removed after it, never returned.
/// </summary>
internal sealed class WarmPoolPolicy(int maxWarm, TimeSpan idleTime)
{
    private readonly Lock _gate = new();
    private readonly List<WarmBox> _idle = [];
    private readonly List<(string Key, string NodeId)> _pending = [];

    public int MaxWarm { get; } = maxWarm;

    public TimeSpan IdleTime { get; } = idleTime;

    /// <summary>Idle boxes plus boxes being made.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _idle.Count + _pending.Count;
            }
        }
    }

    /// <summary>The idle boxes now (a copy).</summary>
    public IReadOnlyList<WarmBox> Idle
    {
        get
        {
            lock (_gate)
            {
                return [.. _idle];
            }
        }
    }

    /// <summary>Takes the oldest idle box of <paramref name="key"/> on one of <paramref name="freeNodes"/>, or none.</summary>
    public WarmBox? Take(string key, IReadOnlySet<string> freeNodes)
    {
        lock (_gate)
        {
            var box = _idle.Where(b => b.Key == key && freeNodes.Contains(b.NodeId)).OrderBy(b => b.Warmed).FirstOrDefault();
            if (box is not null)
            {
                _idle.Remove(box);
            }

            return box;
        }
    }

    /// <summary>
    /// The nodes to warm a box of <paramref name="key"/> on now: each of <paramref name="freeNodes"/> (in order) that has
    /// none idle or being made, while the total stays within <see cref="MaxWarm"/>. They count as being made from here.
    /// </summary>
    public IReadOnlyList<string> PlanRefill(string key, IReadOnlyList<string> freeNodes)
    {
        lock (_gate)
        {
            var planned = new List<string>();
            foreach (var node in freeNodes)
            {
                if (_idle.Count + _pending.Count >= MaxWarm)
                {
                    break;
                }

                if (_idle.Any(b => b.Key == key && b.NodeId == node) || _pending.Contains((key, node)))
                {
                    continue;
                }

                _pending.Add((key, node));
                planned.Add(node);
            }

            return planned;
        }
    }

    /// <summary>A planned box is made and idle (its plan is done).</summary>
    public void Warmed(WarmBox box)
    {
        lock (_gate)
        {
            _pending.Remove((box.Key, box.NodeId));
            _idle.Add(box);
        }
    }

    /// <summary>A planned box could not be made (its plan is dropped; the next take or cold create plans again).</summary>
    public void Failed(string key, string nodeId)
    {
        lock (_gate)
        {
            _pending.Remove((key, nodeId));
        }
    }

    /// <summary>Removes and returns the boxes idle for longer than <see cref="IdleTime"/> at <paramref name="now"/>.</summary>
    public IReadOnlyList<WarmBox> Expire(DateTimeOffset now)
    {
        lock (_gate)
        {
            var expired = _idle.Where(b => now - b.Warmed > IdleTime).ToList();
            _idle.RemoveAll(expired.Contains);
            return expired;
        }
    }

    /// <summary>Removes and returns every idle box (the backend is going).</summary>
    public IReadOnlyList<WarmBox> Drain()
    {
        lock (_gate)
        {
            var all = _idle.ToList();
            _idle.Clear();
            return all;
        }
    }
}
