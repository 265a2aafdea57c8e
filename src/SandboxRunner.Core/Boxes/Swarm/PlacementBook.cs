namespace SandboxRunner.Boxes.Swarm;

/// <summary>
/// The boxes this process has asked swarm for whose task has no node yet, with no I/O (<see cref="SwarmNodes"/> does
/// the looking). Swarm's listing counts a box on its node only once the scheduler assigned it (70-90 ms after the
/// create on the test swarm, more under load, and a task adopting a box being made waits for the whole make); the book
/// counts it until then, so the next box's placement need not wait for that. A box not yet placed may land on any node
/// its constraints leave it, so it counts against each of them: never more boxes on a node than its cap, whatever
/// swarm chooses.
/// </summary>
internal sealed class PlacementBook
{
    private readonly Lock _gate = new();
    private readonly Dictionary<long, IReadOnlySet<string>> _unplaced = [];
    private long _next;

    /// <summary>How many boxes are not placed yet.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _unplaced.Count;
            }
        }
    }

    /// <summary>The excluded nodes of every box not placed yet, at this moment (take it before listing the nodes: a box placed meanwhile is then counted twice, never missed).</summary>
    public IReadOnlyList<IReadOnlySet<string>> Unplaced()
    {
        lock (_gate)
        {
            return [.. _unplaced.Values];
        }
    }

    /// <summary>Books a box that may go to any node but <paramref name="excluded"/>; returns its entry.</summary>
    public long Book(IReadOnlySet<string> excluded)
    {
        lock (_gate)
        {
            var id = ++_next;
            _unplaced[id] = excluded;
            return id;
        }
    }

    /// <summary>The box of <paramref name="entry"/> may now go to no node but <paramref name="excluded"/> leaves it (it was given a node's box).</summary>
    public void Narrow(long entry, IReadOnlySet<string> excluded)
    {
        lock (_gate)
        {
            if (_unplaced.ContainsKey(entry))
            {
                _unplaced[entry] = excluded;
            }
        }
    }

    /// <summary>The box of <paramref name="entry"/> is placed (swarm's listing counts it now) or was never made.</summary>
    public bool Settle(long entry)
    {
        lock (_gate)
        {
            return _unplaced.Remove(entry);
        }
    }

    /// <summary>
    /// Whether <paramref name="node"/> takes one more box: usable, and its placed boxes plus every unplaced box that
    /// could still land on it stay under <paramref name="cap"/> (none: no cap).
    /// </summary>
    public static bool IsFree(SwarmNode node, IReadOnlyList<IReadOnlySet<string>> unplaced, int? cap) =>
        node.TakesBoxes && (cap is not { } max || node.Boxes + unplaced.Count(excluded => !excluded.Contains(node.Id)) < max);
}
