namespace SandboxRunner.Boxes.Swarm;

/// <summary>
/// What the swarm backend needs besides the manager's connection: the registry its nodes pull the runner's images
/// from (<c>host:port</c>; null for a swarm whose nodes already hold them, such as one node), and how many of the
/// runner's boxes one node may run at once (null: as many as swarm places there), and how many warm boxes
/// (<see cref="SwarmPool"/>) it keeps ready at most, all shapes and nodes together: 0 keeps none, so a backend made
/// by a host or a test starts nothing in the background unless asked; the runner's own composition asks for
/// <see cref="DefaultWarmBoxes"/>.
/// </summary>
public sealed record SwarmOptions(string? Registry = null, int? MaxTasksPerNode = null, int WarmBoxes = 0)
{
    /// <summary>
    /// The runner's bound: each warm box holds a running container, its volumes and, under <c>none</c>, an address of
    /// the parking overlay's /24; eight is one per node of a few nodes in two shapes (a task's and another lane's).
    /// </summary>
    public const int DefaultWarmBoxes = 8;

    /// <summary>
    /// The node label that names a node's own engine endpoint (<c>tcp://host:port</c>), through which the runner
    /// reaches a box's files (the archive API) and kills it: <c>docker node update --label-add sandbox-runner.engine=tcp://…</c>.
    /// The manager's own node needs none. A node without it never gets a box.
    /// </summary>
    public const string EngineLabel = "sandbox-runner.engine";
}
