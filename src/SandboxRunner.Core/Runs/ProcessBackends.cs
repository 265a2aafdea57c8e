using SandboxRunner.Boxes;
using SandboxRunner.Configuration;

namespace SandboxRunner.Runs;

/// <summary>
/// What makes two configs run their tasks on the same backend: its kind and, for a swarm, the registry and the
/// per-node cap. (The engine connection is the process's, fixed for its <see cref="ProcessBackends"/>.) Fields
/// that do not choose the backend (the model, limits, policies) never make a new one.
/// </summary>
public sealed record BackendChoice(BackendKind Kind, string? Registry, int? MaxTasksPerNode)
{
    public static BackendChoice Of(RunnerConfig config) =>
        config.Backend == BackendKind.Swarm ? new(BackendKind.Swarm, config.Registry, config.MaxTasksPerNode) : new(BackendKind.Docker, null, null);
}

/// <summary>
/// The backends a process has made, one per <see cref="BackendChoice"/>, made when a config first names it
/// (<see cref="BackendFactory.CreateBackend"/>: the server, the command line and a <c>RunnerSession</c> all come
/// here) and kept until the process's workspace goes: a config reload that changes the backend gets a new one for
/// new calls, while runs in progress keep the one they started on. Making one contacts nothing.
/// </summary>
public sealed class ProcessBackends : IDisposable, IAsyncDisposable
{
    private readonly Func<RunnerConfig, ITaskBackend> _make;
    private readonly bool _owned;
    private readonly Dictionary<BackendChoice, ITaskBackend> _made = [];
    private readonly Lock _gate = new();
    private bool _disposed;

    /// <param name="make">Makes the backend a config names (the process's engine connection and labels bound in).</param>
    public ProcessBackends(Func<RunnerConfig, ITaskBackend> make)
        : this(make, owned: true)
    {
    }

    private ProcessBackends(Func<RunnerConfig, ITaskBackend> make, bool owned)
    {
        _make = make;
        _owned = owned;
    }

    /// <summary>
    /// One backend for every config, owned by the caller (not disposed here): a test's fake engine, or a host that
    /// chose its backend itself.
    /// </summary>
    public static ProcessBackends Fixed(ITaskBackend backend) => new(_ => backend, owned: false);

    /// <summary>The backend <paramref name="config"/> names, made on first use.</summary>
    public ITaskBackend For(RunnerConfig config)
    {
        var choice = BackendChoice.Of(config);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_made.TryGetValue(choice, out var backend))
            {
                backend = _make(config);
                _made[choice] = backend;
            }

            return backend;
        }
    }

    /// <summary>
    /// The backend of the defaults (the local engine): for what must work before any config can be read, such as the
    /// doctor on a broken config.
    /// </summary>
    public ITaskBackend Default => For(RunnerConfig.Default);

    public async ValueTask DisposeAsync()
    {
        foreach (var backend in Release())
        {
            await backend.DisposeAsync();
        }
    }

    /// <summary>
    /// For a synchronous owner (a <see cref="Workspace"/> inside a service provider), which blocks until each backend is
    /// gone. The local engine's releases its clients at once; a swarm backend first removes its warm boxes on the nodes
    /// (bounded: their refills get 30 s to finish, the sweep by label 60 s), since nothing else would.
    /// </summary>
    public void Dispose()
    {
        foreach (var backend in Release())
        {
            backend.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    private List<ITaskBackend> Release()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return [];
            }

            _disposed = true;
            var made = _owned ? _made.Values.Distinct().ToList() : [];
            _made.Clear();
            return made;
        }
    }
}
