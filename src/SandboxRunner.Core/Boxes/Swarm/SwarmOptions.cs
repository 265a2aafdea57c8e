namespace SandboxRunner.Boxes.Swarm;

/// <summary>
/// What the swarm backend needs besides the manager's connection: the registry its nodes pull the runner's images
/// from (<c>host:port</c>; null for a swarm whose nodes already hold them, such as one node), and how many of the
/// runner's boxes one node may run at once (null: as many as swarm places there).
/// </summary>
public sealed record SwarmOptions(string? Registry = null, int? MaxTasksPerNode = null)
{
    /// <summary>
    /// The node label that names a node's own engine endpoint (<c>tcp://host:port</c>), through which the runner
    /// reaches a box's files (the archive API) and kills it: <c>docker node update --label-add sandbox-runner.engine=tcp://…</c>.
    /// The manager's own node needs none. A node without it never gets a box.
    /// </summary>
    public const string EngineLabel = "sandbox-runner.engine";
}
