using Microsoft.Extensions.Logging;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;
using SandboxRunner.Boxes.Swarm;
using SandboxRunner.Configuration;

namespace SandboxRunner.Runs;

/// <summary>
/// The one place a process gets where its tasks run: the backend a config names (<c>docker</c>, or <c>swarm</c>)
/// over the engine connection the environment names (DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH). The host's
/// composition root, the MCP server, the verbs and <c>RunnerSession</c> all get theirs through <see cref="Pool"/>, which
/// makes one per config's choice when a config is read; a test project composes the library the same way without the
/// host. What it returns is all the run layer and the hosts see of Docker: this is the one place outside
/// <c>Boxes/Docker</c> that names a Docker type.
/// </summary>
public static class BackendFactory
{
    public const string Docker = "docker";

    /// <summary>The backends this build has.</summary>
    public static IReadOnlyList<string> Names { get; } = [Docker];

    /// <summary>
    /// A process's backends over <paramref name="connection"/> (null: the environment's): each made by
    /// <see cref="CreateBackend"/> when a config first names it, all disposed with the pool.
    /// </summary>
    public static ProcessBackends Pool(EngineConnection? connection, ILoggerFactory loggers, IReadOnlyDictionary<string, string>? extraLabels = null) =>
        new(config => CreateBackend(config, connection, loggers, extraLabels));

    /// <summary>
    /// The backend <paramref name="name"/> names (null: <c>docker</c>) over <paramref name="connection"/> (null: the
    /// environment's); an unknown name is refused with the ones there are. <paramref name="extraLabels"/> go on every
    /// resource it creates besides the runner's own (an embedding test framework's session labels).
    /// </summary>
    public static ITaskBackend Create(string? name, EngineConnection? connection, ILoggerFactory loggers, IReadOnlyDictionary<string, string>? extraLabels = null) => (name ?? Docker) switch
    {
        Docker => new DockerBackend(loggers.CreateLogger<DockerBackend>(), connection ?? EngineConnection.FromProcess(), extraLabels),
        var other => throw new InvalidInputException("config", "backend", $"'{other}' is not a backend of this runner; use one of: {string.Join(", ", Names)}"),
    };

    /// <summary>
    /// The backend the config's <c>backend</c> field names over <paramref name="connection"/> (null: the environment's):
    /// the local engine's, or a swarm's (DOCKER_HOST names its manager) with the config's <c>registry</c> and
    /// <c>max_tasks_per_node</c>. Nothing is contacted until the backend is first used.
    /// </summary>
    public static ITaskBackend CreateBackend(RunnerConfig config, EngineConnection? connection, ILoggerFactory loggers, IReadOnlyDictionary<string, string>? extraLabels = null) =>
        config.Backend switch
        {
            BackendKind.Swarm => new SwarmBackend(
                loggers.CreateLogger<SwarmBackend>(), connection ?? EngineConnection.FromProcess(), new SwarmOptions(config.Registry, config.MaxTasksPerNode, SwarmOptions.DefaultWarmBoxes), extraLabels),
            _ => Create(Docker, connection, loggers, extraLabels),
        };
}
