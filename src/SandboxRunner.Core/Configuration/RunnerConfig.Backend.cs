namespace SandboxRunner.Configuration;

/// <summary>Where tasks run: a Docker engine, or a Docker swarm (issue 25).</summary>
public enum BackendKind { Docker, Swarm }

/// <summary>The backend fields (issue 25: tasks scheduled on a Docker swarm).</summary>
public sealed partial record RunnerConfig
{
    /// <summary><c>backend</c>: <c>docker</c> (one engine, the default) or <c>swarm</c> (the swarm whose manager DOCKER_HOST names).</summary>
    public BackendKind Backend { get; init; } = BackendKind.Docker;

    /// <summary><c>registry</c>: <c>host[:port]</c> of the registry the runner pushes its images to for a swarm's nodes; null: none (a one-node swarm).</summary>
    public string? Registry { get; init; }

    /// <summary><c>max_tasks_per_node</c>: the runner's boxes one swarm node runs at once, across every run and runner; null: as swarm places them.</summary>
    public int? MaxTasksPerNode { get; init; }
}
