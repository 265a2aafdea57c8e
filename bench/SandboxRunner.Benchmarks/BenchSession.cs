using Docker.DotNet;
using Microsoft.Extensions.Logging.Abstractions;
using SandboxRunner.Git;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;

namespace SandboxRunner.Benchmarks;

/// <summary>
/// What every runner benchmark opens first: a session id (its label and its scratch folder's name), the
/// engine (whose every Docker API call <see cref="Timing"/> records), a raw client that is not recorded (the benchmark's
/// own looks and clean-up), and git behind the call recorder.
/// </summary>
internal sealed class BenchSession : IDisposable
{
    private BenchSession(string id, EngineConnection connection)
    {
        Id = id;
        Scratch = Path.Combine(Path.GetTempPath(), $"sr-bench-{id}");
        Docker = new DockerEngine(NullLogger<DockerEngine>.Instance, connection with { WrapHandler = Timing.Wrap });
        Client = connection.CreateClient();
        Git = new GitCli(GitLog);
    }

    public string Id { get; }

    public string Scratch { get; }

    /// <summary>The engine the runners are given (its <see cref="DockerEngine.Backend"/>): every client it makes is recorded.</summary>
    public DockerEngine Docker { get; }

    public DockerClient Client { get; }

    public EngineCallRecorder Timing { get; } = new();

    public GitCallRecorder GitLog { get; } = new();

    public GitCli Git { get; }

    public static BenchSession Open() => new(Guid.NewGuid().ToString("N")[..12], EngineConnection.FromProcess());

    public void Dispose()
    {
        Client.Dispose();
        Docker.Dispose();
    }
}
