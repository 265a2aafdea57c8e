namespace SandboxRunner.Boxes.Swarm;

/// <summary>A warm box: a placed service of one shape whose container waits at its gate on a node, handed to no task yet.</summary>
/// <param name="Spec">The service's spec as the manager holds it, and its <paramref name="Version"/>: what a label-only update sends back.</param>
internal sealed record WarmBox(string Key, string ServiceId, string NodeId, string ContainerId, DateTimeOffset Warmed, global::Docker.DotNet.Models.ServiceSpec Spec, ulong Version);

/// <summary>A task's claim on a box being made on <paramref name="NodeId"/>: the box once made, or null if making it failed.</summary>
internal sealed record WarmClaim(string NodeId, Task<WarmBox?> Box);

/// <summary>
/// Which warm boxes the swarm backend keeps, with no I/O (<see cref="SwarmPool"/> does the creating and removing):
/// per shape (the pool key) as many as asked (the backend asks for one more than the boxes of the shape in use, so a
/// fan-out's successors find theirs made while it runs), spread evenly over the nodes, at most <see cref="MaxWarm"/> in
/// all (made or being made), none idle longer than <see cref="IdleTime"/>. A box taken leaves the pool for good: it is
/// handed to one task and removed after it, never returned. A box being made can be claimed by one task
/// (<see cref="Claim"/>), which then gets it the moment it is made instead of making a second box on that node.
/// </summary>
internal sealed class WarmPoolPolicy(int maxWarm, TimeSpan idleTime)
{
    private readonly Lock _gate = new();
    private readonly List<WarmBox> _idle = [];
    private readonly List<Pending> _pending = [];
    private readonly Dictionary<string, int> _inUse = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _coldStarting = new(StringComparer.Ordinal);

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

    /// <summary>A box of <paramref name="key"/> was handed to a task (warm or made cold): one more of the shape in use.</summary>
    public void Using(string key)
    {
        lock (_gate)
        {
            Add(_inUse, key, 1);
        }
    }

    /// <summary>A box of <paramref name="key"/> in use is gone.</summary>
    public void Released(string key)
    {
        lock (_gate)
        {
            Add(_inUse, key, -1);
        }
    }

    /// <summary>A cold create of a box of <paramref name="key"/> began.</summary>
    public void ColdStarted(string key)
    {
        lock (_gate)
        {
            Add(_coldStarting, key, 1);
        }
    }

    /// <summary>A cold create of <paramref name="key"/> ended (made or not); true when no other of the shape is under way.</summary>
    public bool ColdEnded(string key)
    {
        lock (_gate)
        {
            return Add(_coldStarting, key, -1) == 0;
        }
    }

    /// <summary>Whether a box of <paramref name="key"/> is idle or being made and not claimed: the next task of the shape finds one.</summary>
    public bool HasSpare(string key)
    {
        lock (_gate)
        {
            return _idle.Any(b => b.Key == key) || _pending.Any(p => p.Key == key && p.Claim is null);
        }
    }

    /// <summary>
    /// How many boxes of <paramref name="key"/> to keep warm: one more than are in use, so each task running now finds
    /// a successor's box made (a fan-out keeps a box per place in use; one task at a time keeps one), within <see cref="MaxWarm"/>.
    /// </summary>
    public int Wanted(string key)
    {
        lock (_gate)
        {
            return Math.Min(_inUse.GetValueOrDefault(key) + 1, MaxWarm);
        }
    }

    /// <summary>
    /// The nodes to warm boxes of <paramref name="key"/> on now, one entry per box: round by round over
    /// <paramref name="nodes"/> (in order), each round giving a box to every node with fewer of the shape than the round,
    /// until the shape has <paramref name="wanted"/> idle or being made, or the total reaches <see cref="MaxWarm"/>. They
    /// count as being made from here.
    /// </summary>
    public IReadOnlyList<string> PlanRefill(string key, IReadOnlyList<string> nodes, int wanted)
    {
        lock (_gate)
        {
            var planned = new List<string>();
            var have = nodes.Distinct(StringComparer.Ordinal).ToDictionary(
                n => n, n => _idle.Count(b => b.Key == key && b.NodeId == n) + _pending.Count(p => p.Key == key && p.NodeId == n), StringComparer.Ordinal);
            var ofShape = _idle.Count(b => b.Key == key) + _pending.Count(p => p.Key == key);
            for (var round = 0; have.Count > 0 && ofShape < wanted && _idle.Count + _pending.Count < MaxWarm; round++)
            {
                foreach (var node in have.Keys.ToList().Where(n => have[n] <= round))
                {
                    if (ofShape >= wanted || _idle.Count + _pending.Count >= MaxWarm)
                    {
                        break;
                    }

                    _pending.Add(new Pending(key, node));
                    planned.Add(node);
                    have[node]++;
                    ofShape++;
                }
            }

            return planned;
        }
    }

    /// <summary>
    /// Claims a box of <paramref name="key"/> being made on one of <paramref name="freeNodes"/> that no task claimed yet:
    /// its node, and the box once made (null if making it failed); none when no such box is being made.
    /// </summary>
    public WarmClaim? Claim(string key, IReadOnlySet<string> freeNodes)
    {
        lock (_gate)
        {
            if (_pending.FirstOrDefault(p => p.Key == key && freeNodes.Contains(p.NodeId) && p.Claim is null) is not { } pending)
            {
                return null;
            }

            pending.Claim = new TaskCompletionSource<WarmBox?>(TaskCreationOptions.RunContinuationsAsynchronously);
            return new WarmClaim(pending.NodeId, pending.Claim.Task);
        }
    }

    /// <summary>
    /// A claim's task gave up waiting: the box, once made or if made already, is idle for the next task rather than lost.
    /// </summary>
    public void Abandon(WarmClaim claim)
    {
        lock (_gate)
        {
            if (_pending.FirstOrDefault(p => p.Claim?.Task == claim.Box) is { } pending)
            {
                pending.Claim = null;
            }
            else if (claim.Box.IsCompletedSuccessfully && claim.Box.Result is { } made)
            {
                _idle.Add(made);
            }
        }
    }

    /// <summary>A box is made: it goes to the task that claimed one of its shape and node first, else it is idle (a plan is done).</summary>
    public void Warmed(WarmBox box)
    {
        lock (_gate)
        {
            // Handed over under the lock (continuations run elsewhere), so an abandoning claim sees it either way.
            if (Done(box.Key, box.NodeId, claimedFirst: true) is { } claim)
            {
                claim.SetResult(box);
            }
            else
            {
                _idle.Add(box);
            }
        }
    }

    /// <summary>
    /// A planned box could not be made: a plan of its shape and node is dropped, an unclaimed one first (a claiming task
    /// waits on for another being made there); a claimed one's task gets none. The next refill plans again.
    /// </summary>
    public void Failed(string key, string nodeId)
    {
        lock (_gate)
        {
            Done(key, nodeId, claimedFirst: false)?.SetResult(null);
        }
    }

    /// <summary>Drops a plan of a box of <paramref name="key"/> on <paramref name="nodeId"/>; returns its claim, if any.</summary>
    private TaskCompletionSource<WarmBox?>? Done(string key, string nodeId, bool claimedFirst)
    {
        var plans = _pending.Where(p => p.Key == key && p.NodeId == nodeId).ToList();
        if ((plans.FirstOrDefault(p => (p.Claim is not null) == claimedFirst) ?? plans.FirstOrDefault()) is not { } pending)
        {
            return null;
        }

        _pending.Remove(pending);
        return pending.Claim;
    }

    /// <summary>Adds <paramref name="delta"/> to a count per shape, dropping the shape at zero (never below); returns the count.</summary>
    private static int Add(Dictionary<string, int> counts, string key, int delta)
    {
        var count = Math.Max(0, counts.GetValueOrDefault(key) + delta);
        if (count == 0)
        {
            counts.Remove(key);
        }
        else
        {
            counts[key] = count;
        }

        return count;
    }

    private sealed class Pending(string key, string nodeId)
    {
        public string Key { get; } = key;

        public string NodeId { get; } = nodeId;

        public TaskCompletionSource<WarmBox?>? Claim { get; set; }
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
