using System.Diagnostics;
using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging.Abstractions;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;
using SandboxRunner.Boxes.Swarm;
using SandboxRunner.IntegrationTests.Infrastructure;

namespace SandboxRunner.IntegrationTests.Swarm;

/// <summary>
/// A real two-node swarm on this machine: the local engine as manager (swarm init, advertising the docker0
/// gateway), a second dockerd in a container (images/dind) joined as a worker that does not share this
/// machine's files, and Debian's docker-registry (images/registry) the nodes pull the runner's images from.
/// The worker reaches the registry under the same name as the manager (<c>localhost:PORT</c>, which every
/// engine may use without TLS) through a socat inside its container. Disposing leaves the engine as found:
/// it leaves the swarm only if it was not in one before, removes the docker_gwbridge network it made, and removes
/// the worker and the registry with their volumes. A missing prerequisite fails the collection, never skips it.
/// </summary>
public sealed class SwarmFixture : IAsyncLifetime
{
    public const string RegistryImage = "sandbox-runner/registry:dev";
    private const string TestLabel = "sandbox-runner.test";
    private readonly DockerClient _host = EngineConnection.FromProcess().CreateClient();
    private readonly List<string> _containers = [];
    private bool _initialised;
    private bool _gwbridgeExisted;
    private string? _workerNodeId;

    public SwarmBackend Backend { get; private set; } = null!;

    /// <summary>The worker's engine (tcp://127.0.0.1:PORT).</summary>
    public Uri WorkerEndpoint { get; private set; } = null!;

    public string WorkerContainerId { get; private set; } = "";

    public string Registry { get; private set; } = "";

    public string ManagerNodeName { get; private set; } = "";

    public string WorkerNodeName { get; private set; } = "";

    /// <summary>How long the swarm took to be ready (init, worker, registry, images pushed and pulled).</summary>
    public TimeSpan StartTime { get; private set; }

    public async Task InitializeAsync()
    {
        var clock = Stopwatch.StartNew();
        var info = await _host.System.GetSystemInfoAsync();
        if (info.Swarm?.LocalNodeState is "active" && !info.Swarm.ControlAvailable)
        {
            throw new InvalidOperationException("the local engine is a swarm worker, not a manager: the swarm tests need a manager (docker swarm leave first)");
        }

        var gateway = (await _host.Networks.InspectNetworkAsync("bridge")).IPAM.Config[0].Gateway is { Length: > 0 } g ? g : "172.17.0.1";
        _gwbridgeExisted = (await _host.Networks.ListNetworksAsync(new NetworksListParameters())).Any(n => n.Name == "docker_gwbridge");
        Build(RegistryImage, "registry");
        Build("sandbox-runner/dind:dev", "dind");
        Build(DockerFixture.FakeCodexImage, "fake-codex");
        if (info.Swarm?.LocalNodeState is not "active")
        {
            // A 1 s heartbeat: a node that dies is seen down within seconds, not the default's 5 s periods.
            await _host.Swarm.InitSwarmAsync(new SwarmInitParameters
            {
                ListenAddr = "0.0.0.0:2377",
                AdvertiseAddr = gateway,
                Spec = new Spec { Dispatcher = new DispatcherConfig { HeartbeatPeriod = TimeSpan.FromSeconds(1) } },
            });
            _initialised = true;
        }

        ManagerNodeName = info.Name;
        var registry = await StartAsync(RegistryImage, "swarm-registry", "5000/tcp", privileged: false);
        var registryIp = (await _host.Containers.InspectContainerAsync(registry.Id)).NetworkSettings!.Networks!["bridge"].IPAddress!;
        Registry = $"localhost:{registry.Port}";

        var worker = await StartAsync("sandbox-runner/dind:dev", "swarm-worker", "2375/tcp", privileged: true);
        WorkerContainerId = worker.Id;
        WorkerEndpoint = new Uri($"tcp://127.0.0.1:{worker.Port}");
        using var workerClient = new EngineConnection(WorkerEndpoint).CreateClient();
        await Platform.Poll.UntilAsync(
            async ct =>
            {
                try
                {
                    await workerClient.System.PingAsync(ct);
                    return true;
                }
                catch (Exception e) when (e is HttpRequestException or IOException or DockerApiException)
                {
                    return false;
                }
            },
            TimeSpan.FromMilliseconds(250),
            TimeSpan.FromSeconds(60),
            CancellationToken.None);

        // The registry under the manager's name for it: a socat in the worker's own network namespace.
        await ExecDetachedAsync(worker.Id, ["socat", $"TCP-LISTEN:{registry.Port},fork,reuseaddr,bind=127.0.0.1", $"TCP:{registryIp}:5000"]);

        var swarm = await _host.Swarm.InspectSwarmAsync();
        await workerClient.Swarm.JoinSwarmAsync(new SwarmJoinParameters
        {
            ListenAddr = "0.0.0.0:2377",
            RemoteAddrs = [$"{gateway}:2377"],
            JoinToken = swarm.JoinTokens.Worker,
        });
        _workerNodeId = (await workerClient.System.GetSystemInfoAsync()).Swarm!.NodeID!;
        var node = await _host.Swarm.InspectNodeAsync(_workerNodeId);
        WorkerNodeName = node.Description!.Hostname!;
        await _host.Swarm.UpdateNodeAsync(_workerNodeId, node.Version!.Index!.Value, new NodeUpdateParameters
        {
            Role = "worker",
            Availability = "active",
            Labels = new Dictionary<string, string> { [SwarmOptions.EngineLabel] = WorkerEndpoint.ToString() },
        });
        await WorkerReadyAsync();

        Backend = new SwarmBackend(NullLogger.Instance, EngineConnection.FromProcess(), new SwarmOptions(Registry));
        // The test image goes to the registry and onto the worker once, not inside the first test.
        var published = await ((SwarmImages)Backend.Images).PublishAsync(DockerFixture.FakeCodexImage, CancellationToken.None);
        var colon = published.LastIndexOf(':');
        await workerClient.Images.CreateImageAsync(
            new ImagesCreateParameters { FromImage = published[..colon], Tag = published[(colon + 1)..] }, null, new Progress<JSONMessage>(), CancellationToken.None);
        StartTime = clock.Elapsed;
    }

    /// <summary>The worker's engine stops answering (its container paused): to swarm, a node that died.</summary>
    public Task PauseWorkerAsync() => _host.Containers.PauseContainerAsync(WorkerContainerId);

    /// <summary>The worker answers again and is back in the swarm, ready for boxes.</summary>
    public async Task ResumeWorkerAsync()
    {
        await _host.Containers.UnpauseContainerAsync(WorkerContainerId);
        await WorkerReadyAsync();
    }

    private async Task WorkerReadyAsync() =>
        Assert.True(
            await Platform.Poll.UntilAsync(
                async ct => (await _host.Swarm.InspectNodeAsync(_workerNodeId!, ct)).Status?.State == "ready",
                TimeSpan.FromMilliseconds(250),
                TimeSpan.FromSeconds(60),
                CancellationToken.None),
            "the swarm's worker was not ready within 60 s");

    /// <summary>A new swarm backend over the same manager, with other options (a per-node cap).</summary>
    public SwarmBackend BackendWith(SwarmOptions options) => new(NullLogger.Instance, EngineConnection.FromProcess(), options with { Registry = Registry });

    private async Task<(string Id, string Port)> StartAsync(string image, string role, string port, bool privileged)
    {
        var created = await _host.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Image = image,
            Labels = new Dictionary<string, string> { [TestLabel] = role },
            ExposedPorts = new Dictionary<string, EmptyStruct> { [port] = default },
            HostConfig = new HostConfig
            {
                // The options ci-machine.md found for a dockerd in a container here (no --privileged: refused on these machines).
                CapAdd = privileged ? ["ALL"] : [],
                CapDrop = privileged ? ["SYS_RESOURCE"] : [],
                SecurityOpt = privileged ? ["seccomp=unconfined", "apparmor=unconfined"] : [],
                CgroupnsMode = privileged ? "host" : null!,
                Binds = privileged ? ["/sys/fs/cgroup:/sys/fs/cgroup:rw"] : [],
                Mounts = [new Mount { Type = "volume", Target = privileged ? "/var/lib/docker" : "/var/lib/docker-registry" }],
                PortBindings = new Dictionary<string, IList<PortBinding>> { [port] = [new PortBinding { HostIP = "127.0.0.1", HostPort = "" }] },
            },
        });
        _containers.Add(created.ID);
        await _host.Containers.StartContainerAsync(created.ID, new ContainerStartParameters());
        var ports = (await _host.Containers.InspectContainerAsync(created.ID)).NetworkSettings!.Ports;
        return (created.ID, ports![port][0].HostPort!);
    }

    /// <summary>docker exec -d (Docker.DotNet cannot start a detached exec: it always hijacks the stream).</summary>
    private static Task ExecDetachedAsync(string containerId, IList<string> command)
    {
        Docker(["exec", "-d", containerId, .. command], "starting the worker's registry forward");
        return Task.CompletedTask;
    }

    private static void Build(string tag, string folder) =>
        Docker(["build", "-q", "-t", tag, Path.Combine(RepoRoot.Path, "images", folder)], $"building {tag} from images/{folder} (run `bash .ci/setup`)");

    private static void Docker(IEnumerable<string> arguments, string what)
    {
        var psi = new ProcessStartInfo("docker") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in arguments)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{what} failed: {err.Result}");
        }
    }

    public async Task DisposeAsync()
    {
        if (Backend is not null)
        {
            await Backend.RemoveOrphansAsync(BoxScope.Every, CancellationToken.None);
            await Backend.DisposeAsync();
        }

        if (_initialised)
        {
            await _host.Swarm.LeaveSwarmAsync(new SwarmLeaveParameters { Force = true });
        }
        else if (_workerNodeId is not null)
        {
            await _host.Swarm.RemoveNodeAsync(_workerNodeId, force: true);
        }

        foreach (var id in _containers)
        {
            await _host.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true, RemoveVolumes = true });
        }

        if (_initialised && !_gwbridgeExisted)
        {
            try
            {
                await _host.Networks.DeleteNetworkAsync("docker_gwbridge");
            }
            catch (DockerNetworkNotFoundException)
            {
            }
        }

        _host.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class SwarmCollection : ICollectionFixture<SwarmFixture>
{
    public const string Name = "swarm";
}
