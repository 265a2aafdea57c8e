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
/// A real two-node swarm on this machine that never touches the local engine's swarm state: two dockerds in
/// containers (images/dind, each with its own /var/lib/docker volume) — the manager (swarm init, advertising its
/// address on the bridge; its API on a 127.0.0.1 port is the backend's engine, as DOCKER_HOST would name it) and a
/// worker joined to it — and Debian's docker-registry (images/registry). Both engines answer only TLS with client
/// verification (<c>dockerd --tlsverify</c>, certificates from a test authority made here, no plain port), as a
/// production swarm's should: the runner reaches them with <see cref="CertPath"/> (DOCKER_CERT_PATH), and a box on a
/// node's bridge finds no API it can use. Every engine reaches the registry as
/// <c>localhost:PORT</c> (which any engine may use without TLS): the local engine through the published port, each
/// node through a socat in its own container. The test images go from the local engine to the registry and are
/// pulled by the manager. Disposing removes both nodes and the registry with their volumes and the tags the push
/// made on the local engine. A missing prerequisite fails the collection, never skips it.
/// </summary>
public sealed class SwarmFixture : IAsyncLifetime
{
    public const string RegistryImage = "sandbox-runner/registry:dev";
    private const string DindImage = "sandbox-runner/dind:dev";
    private const string TestLabel = "sandbox-runner.test";
    private readonly DockerClient _host = EngineConnection.FromProcess().CreateClient();
    private readonly List<string> _containers = [];
    private readonly List<string> _localTags = [];
    private TestCertificateAuthority? _authority;
    private readonly string _certs = Directory.CreateTempSubdirectory("sr-swarm-certs-").FullName;
    private string? _workerNodeId;
    private DockerClient _managerClient = null!;

    public SwarmBackend Backend { get; private set; } = null!;

    /// <summary>The manager's engine (tcp://127.0.0.1:PORT over TLS): the engine DOCKER_HOST would name.</summary>
    public EngineConnection Manager { get; private set; } = null!;

    /// <summary>The worker's engine (tcp://127.0.0.1:PORT over TLS, the same client certificate), as its node label names it.</summary>
    public EngineConnection Worker { get; private set; } = null!;

    /// <summary>The client's ca.pem, cert.pem and key.pem, as DOCKER_CERT_PATH expects them: the runner's for every engine of the swarm.</summary>
    public string CertPath => Path.Combine(_certs, "client");

    public string WorkerContainerId { get; private set; } = "";

    public string Registry { get; private set; } = "";

    /// <summary>
    /// The registry's one login (images/registry/htpasswd): it refuses anonymous pushes and pulls, as a team's should, so
    /// every swarm test shows the runner's login (read from <see cref="DockerConfig"/>) reaching the manager, the nodes and
    /// every service.
    /// </summary>
    public static readonly Docker.DotNet.Models.AuthConfig RegistryLogin = new() { Username = "sandbox-runner-test", Password = "registry-test-password" };

    /// <summary>A Docker config folder (DOCKER_CONFIG) whose config.json holds <see cref="RegistryLogin"/> for <see cref="Registry"/>, as `docker login` writes it.</summary>
    public string DockerConfig => Path.Combine(_certs, "docker-config");

    /// <summary>The registry as a box reaches it (its container's address on this machine's bridge, port 5000).</summary>
    public string RegistryOnBridge { get; private set; } = "";

    /// <summary>The manager's and the worker's addresses on this machine's bridge: where a box on the other node finds their engines.</summary>
    public IReadOnlyList<string> NodeAddresses { get; private set; } = [];

    public string ManagerNodeName { get; private set; } = "";

    public string WorkerNodeName { get; private set; } = "";

    /// <summary>How long the swarm took to be ready (nodes, registry, swarm, images pushed and pulled).</summary>
    public TimeSpan StartTime { get; private set; }

    /// <summary>How much of <see cref="StartTime"/> making the TLS certificates took.</summary>
    public TimeSpan CertificateTime { get; private set; }

    public async Task InitializeAsync()
    {
        var clock = Stopwatch.StartNew();
        // Made in process (no openssl): a client certificate and one server certificate per engine, for the address the
        // runner reaches it at (its published port on 127.0.0.1). Nothing else needs the engines' API: swarm's own
        // traffic (2377, 7946, 4789) has swarm's TLS.
        _authority = new TestCertificateAuthority("sr-swarm-test-ca");
        Directory.CreateDirectory(CertPath);
        _authority.WriteClientFiles(CertPath, "sr-swarm-runner");
        foreach (var role in (string[])["swarm-manager", "swarm-worker"])
        {
            var folder = Directory.CreateDirectory(Path.Combine(_certs, role)).FullName;
            _authority.WriteServerFiles(folder, role, [System.Net.IPAddress.Loopback], ["localhost"]);
        }

        CertificateTime = clock.Elapsed;

        Build(RegistryImage, "registry");
        Build(DindImage, "dind");
        Build(DockerFixture.FakeCodexImage, "fake-codex");
        var proxy = ImageRecipe.EgressProxy();
        await using (var local = new DockerBackend(NullLogger.Instance, EngineConnection.FromProcess()))
        {
            if (!await local.Images.ExistsAsync(proxy.Tag, CancellationToken.None))
            {
                await local.Images.BuildAsync(proxy, CancellationToken.None);
            }
        }

        var registry = await StartAsync(RegistryImage, "swarm-registry", "5000/tcp", dind: false);
        var registryIp = await BridgeAddressAsync(registry.Id);
        Registry = $"localhost:{registry.Port}";
        RegistryOnBridge = $"{registryIp}:5000";
        Directory.CreateDirectory(DockerConfig);
        var basic = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{RegistryLogin.Username}:{RegistryLogin.Password}"));
        await File.WriteAllTextAsync(Path.Combine(DockerConfig, "config.json"), "{\"auths\":{\"" + Registry + "\":{\"auth\":\"" + basic + "\"}}}");
        var manager = await StartAsync(DindImage, "swarm-manager", "2376/tcp", dind: true);
        var worker = await StartAsync(DindImage, "swarm-worker", "2376/tcp", dind: true);
        WorkerContainerId = worker.Id;
        Manager = new EngineConnection(new Uri($"tcp://127.0.0.1:{manager.Port}"), CertPath) { ConfigFolder = DockerConfig };
        Worker = new EngineConnection(new Uri($"tcp://127.0.0.1:{worker.Port}"), CertPath) { ConfigFolder = DockerConfig };
        _managerClient = Manager.CreateClient();
        using var workerClient = Worker.CreateClient();

        // The images go to the registry while the nodes' engines start.
        await RegistryAnswersAsync(registry.Port);
        var pushed = await Task.WhenAll(new[] { DockerFixture.FakeCodexImage, proxy.Tag }.Select(PushFromLocalAsync));
        await Task.WhenAll(AnswersAsync(_managerClient, "manager"), AnswersAsync(workerClient, "worker"));

        // The registry under the local engine's name for it: a socat in each node's own network namespace.
        foreach (var nodeContainer in new[] { manager.Id, worker.Id })
        {
            Docker(["exec", "-d", nodeContainer, "socat", $"TCP-LISTEN:{registry.Port},fork,reuseaddr,bind=127.0.0.1", $"TCP:{registryIp}:5000"], "starting a node's registry forward");
        }

        var managerIp = await BridgeAddressAsync(manager.Id);
        NodeAddresses = [managerIp, await BridgeAddressAsync(worker.Id)];
        // A 1 s heartbeat: a node that dies is seen down within seconds, not the default's 5 s periods.
        await _managerClient.Swarm.InitSwarmAsync(new SwarmInitParameters
        {
            ListenAddr = "0.0.0.0:2377",
            AdvertiseAddr = managerIp,
            Spec = new Spec { Dispatcher = new DispatcherConfig { HeartbeatPeriod = TimeSpan.FromSeconds(1) } },
        });
        ManagerNodeName = (await _managerClient.System.GetSystemInfoAsync()).Name;
        var swarm = await _managerClient.Swarm.InspectSwarmAsync();
        await workerClient.Swarm.JoinSwarmAsync(new SwarmJoinParameters
        {
            ListenAddr = "0.0.0.0:2377",
            AdvertiseAddr = await BridgeAddressAsync(worker.Id),
            RemoteAddrs = [$"{managerIp}:2377"],
            JoinToken = swarm.JoinTokens.Worker,
        });
        _workerNodeId = (await workerClient.System.GetSystemInfoAsync()).Swarm!.NodeID!;
        var node = await _managerClient.Swarm.InspectNodeAsync(_workerNodeId);
        WorkerNodeName = node.Description!.Hostname!;
        await _managerClient.Swarm.UpdateNodeAsync(_workerNodeId, node.Version!.Index!.Value, new NodeUpdateParameters
        {
            Role = "worker",
            Availability = "active",
            Labels = new Dictionary<string, string> { [SwarmOptions.EngineLabel] = Worker.Endpoint.ToString() },
        });

        // The manager holds the test images under their own names, as a runner's engine holds what it built.
        foreach (var (image, inRegistry) in pushed)
        {
            await PullAsync(_managerClient, inRegistry);
            var colon = image.LastIndexOf(':');
            await _managerClient.Images.TagImageAsync(inRegistry, new ImageTagParameters { RepositoryName = image[..colon], Tag = image[(colon + 1)..] });
        }

        await WorkerReadyAsync();
        Backend = new SwarmBackend(NullLogger.Instance, Manager, new SwarmOptions(Registry));
        // The test image goes onto the worker once, not inside the first test.
        await PullAsync(workerClient, await ((SwarmImages)Backend.Images).PublishAsync(DockerFixture.FakeCodexImage, CancellationToken.None));
        StartTime = clock.Elapsed;
    }

    private async Task<(string Image, string InRegistry)> PushFromLocalAsync(string image)
    {
        var repository = $"{Registry}/{image[..image.LastIndexOf(':')]}";
        var tag = image[(image.LastIndexOf(':') + 1)..];
        await _host.Images.TagImageAsync(image, new ImageTagParameters { RepositoryName = repository, Tag = tag });
        _localTags.Add($"{repository}:{tag}");
        string? error = null;
        await _host.Images.PushImageAsync(repository, new ImagePushParameters { Tag = tag }, RegistryLogin, new Reported(m => error ??= m.Error?.Message is { Length: > 0 } e ? e : null));
        return error is null ? (image, $"{repository}:{tag}") : throw new InvalidOperationException($"pushing {image} to the test registry {Registry} failed: {error}");
    }

    private static async Task PullAsync(DockerClient client, string image)
    {
        var colon = image.LastIndexOf(':');
        string? error = null;
        await client.Images.CreateImageAsync(
            new ImagesCreateParameters { FromImage = image[..colon], Tag = image[(colon + 1)..] }, RegistryLogin, new Reported(m => error ??= m.Error?.Message is { Length: > 0 } e ? e : null), CancellationToken.None);
        if (error is not null)
        {
            throw new InvalidOperationException($"pulling {image} onto a swarm node failed: {error}");
        }
    }

    private static async Task AnswersAsync(DockerClient client, string role) =>
        Assert.True(
            await Platform.Poll.UntilAsync(
                async ct =>
                {
                    try
                    {
                        await client.System.PingAsync(ct);
                        return true;
                    }
                    catch (Exception e) when (e is HttpRequestException or IOException or DockerApiException)
                    {
                        return false;
                    }
                },
                TimeSpan.FromMilliseconds(250),
                TimeSpan.FromSeconds(60),
                CancellationToken.None),
            $"the swarm {role}'s dockerd did not answer within 60 s");

    private static async Task RegistryAnswersAsync(string port)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        Assert.True(
            await Platform.Poll.UntilAsync(
                async ct =>
                {
                    try
                    {
                        // 401: it answers, and wants the login.
                        return (await http.GetAsync(new Uri($"http://127.0.0.1:{port}/v2/"), ct)).StatusCode == System.Net.HttpStatusCode.Unauthorized;
                    }
                    catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                    {
                        return false;
                    }
                },
                TimeSpan.FromMilliseconds(250),
                TimeSpan.FromSeconds(60),
                CancellationToken.None),
            "the swarm tests' registry did not answer within 60 s");
    }

    private async Task<string> BridgeAddressAsync(string containerId) =>
        (await _host.Containers.InspectContainerAsync(containerId)).NetworkSettings!.Networks!["bridge"].IPAddress!;

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
                async ct => (await _managerClient.Swarm.InspectNodeAsync(_workerNodeId!, ct)).Status?.State == "ready",
                TimeSpan.FromMilliseconds(250),
                TimeSpan.FromSeconds(60),
                CancellationToken.None),
            "the swarm's worker was not ready within 60 s");

    /// <summary>A new swarm backend over the same manager, with other options (a per-node cap).</summary>
    public SwarmBackend BackendWith(SwarmOptions options) => new(NullLogger.Instance, Manager, options with { Registry = Registry });

    /// <summary>A server certificate for 127.0.0.1 from the swarm's test authority (a stand-in engine's, say), with its key.</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2 IssueServerCertificate() => _authority!.IssueServer(System.Net.IPAddress.Loopback);

    /// <summary>
    /// The worker's <see cref="SwarmOptions.EngineLabel"/> names <paramref name="engine"/> until the returned handle is
    /// disposed, which puts the worker's own endpoint back (the collection's tests run one at a time).
    /// </summary>
    public async Task<IAsyncDisposable> LabelWorkerEngineAsync(Uri engine)
    {
        await SetWorkerEngineLabelAsync(engine);
        return new Restore(() => SetWorkerEngineLabelAsync(Worker.Endpoint));
    }

    private async Task SetWorkerEngineLabelAsync(Uri engine)
    {
        var node = await _managerClient.Swarm.InspectNodeAsync(_workerNodeId!);
        var labels = new Dictionary<string, string>(node.Spec!.Labels ?? new Dictionary<string, string>()) { [SwarmOptions.EngineLabel] = engine.ToString() };
        await _managerClient.Swarm.UpdateNodeAsync(_workerNodeId!, node.Version!.Index!.Value, new NodeUpdateParameters
        {
            Role = node.Spec.Role,
            Availability = node.Spec.Availability,
            Labels = labels,
        });
    }

    private sealed class Restore(Func<Task> restore) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await restore();
    }

    /// <summary>The docker command line's options for <paramref name="engine"/> (<c>-H</c>, and its TLS files when it has them).</summary>
    public static IReadOnlyList<string> CliOptions(EngineConnection engine)
    {
        List<string> options = engine.ConfigFolder is { } config ? ["--config", config] : [];
        options.AddRange(engine.CertPath is { } certs
            ? ["-H", engine.Endpoint.ToString(), "--tlsverify", "--tlscacert", Path.Combine(certs, "ca.pem"), "--tlscert", Path.Combine(certs, "cert.pem"), "--tlskey", Path.Combine(certs, "key.pem")]
            : ["-H", engine.Endpoint.ToString()]);
        return options;
    }

    /// <summary>The docker command line's options for this machine's own engine with the registry's login (a push to the test registry).</summary>
    public IReadOnlyList<string> LocalCliOptions => ["--config", DockerConfig];

    /// <summary>The environment the docker CLI and the runner read to reach <paramref name="engine"/>.</summary>
    public static Dictionary<string, string?> EnvironmentFor(EngineConnection engine) => new()
    {
        ["DOCKER_HOST"] = engine.Endpoint.ToString(),
        ["DOCKER_TLS_VERIFY"] = engine.UsesTls ? "1" : null,
        ["DOCKER_CERT_PATH"] = engine.CertPath,
        ["DOCKER_CONFIG"] = engine.ConfigFolder,
    };

    private async Task<(string Id, string Port)> StartAsync(string image, string role, string port, bool dind)
    {
        var created = await _host.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Image = image,
            Labels = new Dictionary<string, string> { [TestLabel] = role },
            // TLS only: no plain port on a node, where a box on its bridge would find it.
            Env = dind
                ? ["DIND_TLS_ONLY=1"]
                : ["REGISTRY_AUTH=htpasswd", "REGISTRY_AUTH_HTPASSWD_REALM=sandbox-runner-test", "REGISTRY_AUTH_HTPASSWD_PATH=/etc/docker/registry/htpasswd"],
            ExposedPorts = new Dictionary<string, EmptyStruct> { [port] = default },
            HostConfig = new HostConfig
            {
                // The options ci-machine.md found for a dockerd in a container here (no --privileged: refused on these machines).
                CapAdd = dind ? ["ALL"] : [],
                CapDrop = dind ? ["SYS_RESOURCE"] : [],
                SecurityOpt = dind ? ["seccomp=unconfined", "apparmor=unconfined"] : [],
                CgroupnsMode = dind ? "host" : null!,
                Binds = dind ? ["/sys/fs/cgroup:/sys/fs/cgroup:rw", $"{Path.Combine(_certs, role)}:/certs:ro"] : [],
                Mounts = [new Mount { Type = "volume", Target = dind ? "/var/lib/docker" : "/var/lib/docker-registry" }],
                PortBindings = new Dictionary<string, IList<PortBinding>> { [port] = [new PortBinding { HostIP = "127.0.0.1", HostPort = "" }] },
            },
        });
        _containers.Add(created.ID);
        await _host.Containers.StartContainerAsync(created.ID, new ContainerStartParameters());
        var ports = (await _host.Containers.InspectContainerAsync(created.ID)).NetworkSettings!.Ports;
        return (created.ID, ports![port][0].HostPort!);
    }

    private static void Build(string tag, string folder) =>
        Docker(["build", "-q", "-t", tag, Path.Combine(RepoRoot.Path, "images", folder)], $"building {tag} from images/{folder} (run `bash .ci/setup`)");

    private static void Docker(IEnumerable<string> arguments, string what) => HostCommand.Run("docker", arguments, what);

    public async Task DisposeAsync()
    {
        if (Backend is not null)
        {
            await Backend.RemoveOrphansAsync(BoxScope.Every, CancellationToken.None);
            await Backend.DisposeAsync();
        }

        _managerClient?.Dispose();
        // The swarm lives and dies with its two engines: nothing to leave on the local one.
        foreach (var id in _containers)
        {
            await _host.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true, RemoveVolumes = true });
        }

        foreach (var tag in _localTags)
        {
            await _host.Images.DeleteImageAsync(tag, new ImageDeleteParameters { NoPrune = true });
        }

        _host.Dispose();
        _authority?.Dispose();
        Directory.Delete(_certs, recursive: true);
    }

    /// <summary>Progress read as it arrives (Progress&lt;T&gt; posts to the thread pool, so an error could come after the call returned).</summary>
    private sealed class Reported(Action<JSONMessage> report) : IProgress<JSONMessage>
    {
        public void Report(JSONMessage value) => report(value);
    }
}

[CollectionDefinition(Name)]
public sealed class SwarmCollection : ICollectionFixture<SwarmFixture>
{
    public const string Name = "swarm";
}
