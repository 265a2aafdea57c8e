using Docker.DotNet;
using Microsoft.Extensions.Logging.Abstractions;
using SandboxRunner.Git;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;

namespace SandboxRunner.Benchmarks;

/// <summary>
/// What every runner benchmark opens first: a session id (its label and its scratch folder's name), the
/// engine both as itself and behind the timing proxy the runner is given, a raw client, and git behind
/// the call recorder.
/// </summary>
internal sealed class BenchSession : IDisposable
{
    private BenchSession(string id, DockerEngine docker)
    {
        Id = id;
        Scratch = Path.Combine(Path.GetTempPath(), $"sr-bench-{id}");
        Docker = docker;
        Client = docker.Connection.CreateClient();
        (Engine, Timing) = TimingEngine.Wrap(docker);
        Git = new GitCli(GitLog);
    }

    public string Id { get; }

    public string Scratch { get; }

    public DockerEngine Docker { get; }

    public DockerClient Client { get; }

    public IContainerEngine Engine { get; }

    public TimingEngine Timing { get; }

    public GitCallRecorder GitLog { get; } = new();

    public GitCli Git { get; }

    public static BenchSession Open() => new(Guid.NewGuid().ToString("N")[..12], new DockerEngine(NullLogger<DockerEngine>.Instance));

    public void Dispose()
    {
        Client.Dispose();
        Docker.Dispose();
    }
}
