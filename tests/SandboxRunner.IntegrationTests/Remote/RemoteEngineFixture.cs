using System.Diagnostics;
using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging.Abstractions;
using SandboxRunner.Configuration;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;

namespace SandboxRunner.IntegrationTests.Remote;

/// <summary>
/// A second Docker engine that cannot see this machine's files: Debian's dockerd in a container of the
/// host engine (images/dind; no --privileged, which this machine refuses), plain TCP on one published
/// port and dockerd's own TLS with client certificates (made here with openssl) on another. Started
/// once per collection; the base, fake Codex and egress proxy images are copied in through the API (save,
/// load), since it has no registry. Disposing removes the container and its data volume.
/// </summary>
public sealed class RemoteEngineFixture : IAsyncLifetime, IEngineUnderTest
{
    public const string Image = "sandbox-runner/dind:dev";
    private readonly DockerEngine _hostEngine = new(NullLogger<DockerEngine>.Instance, EngineConnection.FromProcess());
    private readonly DockerClient _host = EngineConnection.FromProcess().CreateClient();
    private string? _containerId;
    private string _hostGateway = "";

    internal DockerEngine Engine { get; private set; } = null!;

    DockerEngine IEngineUnderTest.Engine => Engine;

    public Uri PlainEndpoint { get; private set; } = null!;
    public Uri TlsEndpoint { get; private set; } = null!;

    /// <summary>ca.pem, cert.pem and key.pem for the client, as DOCKER_CERT_PATH expects them.</summary>
    public string CertPath { get; } = Directory.CreateTempSubdirectory("sr-dind-certs-").FullName;

    public async Task InitializeAsync()
    {
        MakeCertificates(CertPath);
        // Built here too (the layer cache makes it quick): the host fixture may not have run yet.
        Run("docker", "build", "-q", "-t", DockerFixture.FakeCodexImage, Path.Combine(RepoRoot.Path, "images", "fake-codex"));
        if (!await ExistsAsync(Image))
        {
            Run("docker", "build", "-q", "-t", Image, Path.Combine(RepoRoot.Path, "images", "dind"));
        }

        var created = await _host.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Image = Image,
            Labels = new Dictionary<string, string> { ["sandbox-runner.test"] = "dind" },
            ExposedPorts = new Dictionary<string, EmptyStruct> { ["2375/tcp"] = default, ["2376/tcp"] = default },
            HostConfig = new HostConfig
            {
                CapAdd = ["ALL"],
                CapDrop = ["SYS_RESOURCE"],
                SecurityOpt = ["seccomp=unconfined", "apparmor=unconfined"],
                CgroupnsMode = "host",
                Binds = ["/sys/fs/cgroup:/sys/fs/cgroup:rw", $"{CertPath}:/certs:ro"],
                Mounts = [new Mount { Type = "volume", Target = "/var/lib/docker" }],
                PortBindings = new Dictionary<string, IList<PortBinding>>
                {
                    ["2375/tcp"] = [new PortBinding { HostIP = "127.0.0.1", HostPort = "" }],
                    ["2376/tcp"] = [new PortBinding { HostIP = "127.0.0.1", HostPort = "" }],
                },
            },
        });
        _containerId = created.ID;
        await _host.Containers.StartContainerAsync(_containerId, new ContainerStartParameters());
        var settings = (await _host.Containers.InspectContainerAsync(_containerId)).NetworkSettings!;
        var ports = settings.Ports;
        // The second engine's containers reach this machine through its own container's way out (NAT).
        _hostGateway = settings.Networks["bridge"].Gateway;
        PlainEndpoint = new Uri($"tcp://127.0.0.1:{ports["2375/tcp"][0].HostPort}");
        TlsEndpoint = new Uri($"tcp://127.0.0.1:{ports["2376/tcp"][0].HostPort}");
        Engine = new DockerEngine(NullLogger<DockerEngine>.Instance, new EngineConnection(PlainEndpoint));

        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await Engine.PingAsync(CancellationToken.None);
                break;
            }
            catch (InvalidOperationException) when (clock.Elapsed < TimeSpan.FromSeconds(60))
            {
                await Task.Delay(500);
            }
        }

        // No registry there: the images come over through the API, layers shared in one archive. The proxy
        // comes too: loaded with the base it shares layers with it adds ~4 s here, where the runner's own
        // build of it there (apt-get from Debian's mirror) took 13-15 s.
        var proxy = ImageRecipe.EgressProxy();
        if (!await _hostEngine.ImageExistsAsync(proxy.Tag, CancellationToken.None))
        {
            await _hostEngine.BuildImageAsync(proxy, CancellationToken.None);
        }

        using var inner = new EngineConnection(PlainEndpoint).CreateClient();
        await using var saved = await _host.Images.SaveImagesAsync(["debian:bookworm-slim", DockerFixture.FakeCodexImage, proxy.Tag]);
        await inner.Images.LoadImageAsync(new ImageLoadParameters { Quiet = true }, saved, new Progress<JSONMessage>(), CancellationToken.None);
    }

    public Task<RunnerHarness> HarnessAsync(Func<RunnerConfig, RunnerConfig>? configure = null, Func<string, string?>? hostEnvironment = null) =>
        HarnessAsync(Engine, configure, hostEnvironment);

    /// <summary>A runner on <paramref name="engine"/>, a connection to this fixture's engine (TLS, say).</summary>
    internal async Task<RunnerHarness> HarnessAsync(DockerEngine engine, Func<RunnerConfig, RunnerConfig>? configure = null, Func<string, string?>? hostEnvironment = null)
    {
        var harness = await RunnerHarness.CreateAsync(engine, configure, hostEnvironment);
        harness.LeftBehindChecks.Add(AssertBothEnginesCleanAsync);
        return harness;
    }

    public Task<string> HostGatewayAsync() => Task.FromResult(_hostGateway);

    /// <summary>
    /// The copy transport was used (no container mounted anything), the second engine holds nothing at all
    /// but its images and default networks (it is this collection's alone, and its tests run one at a
    /// time), and the host engine holds nothing of the harness's repository or runs.
    /// </summary>
    private async Task AssertBothEnginesCleanAsync(RunnerHarness harness)
    {
        Assert.All(harness.Engine.Specs.Values, spec => Assert.Empty(spec.Mounts));
        using var inner = Engine.Connection.CreateClient();
        var (spareContainers, spareNetworks) = await harness.SparesAsync();
        var containers = (await inner.Containers.ListContainersAsync(new ContainersListParameters { All = true }, CancellationToken.None))
            .Where(c => !spareContainers.Contains(c.ID)).ToList();
        Assert.True(containers.Count == 0, $"containers left on the second engine: {string.Join(", ", containers.Select(c => $"{c.ID[..12]} {c.Image}"))}");
        var volumes = (await inner.Volumes.ListAsync(new VolumesListParameters(), CancellationToken.None)).Volumes ?? [];
        Assert.True(volumes.Count == 0, $"volumes left on the second engine: {string.Join(", ", volumes.Select(v => v.Name))}");
        var networks = (await inner.Networks.ListNetworksAsync(new NetworksListParameters(), CancellationToken.None)).Select(n => n.Name).Except(["bridge", "host", "none"]).Except(spareNetworks).ToList();
        Assert.True(networks.Count == 0, $"networks left on the second engine: {string.Join(", ", networks)}");
        await harness.AssertEngineHoldsNothingAsync(_hostEngine);
    }

    private async Task<bool> ExistsAsync(string image)
    {
        try
        {
            await _host.Images.InspectImageAsync(image);
            return true;
        }
        catch (DockerImageNotFoundException)
        {
            return false;
        }
    }

    /// <summary>A CA, a server certificate for 127.0.0.1 and a client certificate, named as dockerd and DOCKER_CERT_PATH expect.</summary>
    private static void MakeCertificates(string dir)
    {
        void Ssl(params string[] args) => Run("openssl", args, dir);
        Ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=sr-test-ca", "-keyout", "ca-key.pem", "-out", "ca.pem");
        File.WriteAllText(Path.Combine(dir, "server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
        File.WriteAllText(Path.Combine(dir, "client.ext"), "extendedKeyUsage=clientAuth\n");
        Ssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server-key.pem", "-out", "server.csr");
        Ssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial", "-days", "2", "-extfile", "server.ext", "-out", "server-cert.pem");
        Ssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=sr-test-client", "-keyout", "key.pem", "-out", "client.csr");
        Ssl("x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial", "-days", "2", "-extfile", "client.ext", "-out", "cert.pem");
        foreach (var key in (string[])["ca-key.pem", "server-key.pem", "key.pem"])
        {
            File.SetUnixFileMode(Path.Combine(dir, key), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        }
    }

    private static void Run(string file, params string[] args) => Run(file, args, null);

    private static void Run(string file, string[] args, string? dir) => HostCommand.Run(file, args, directory: dir);

    public async Task DisposeAsync()
    {
        Engine?.Dispose();
        _hostEngine.Dispose();
        if (_containerId is not null)
        {
            await _host.Containers.RemoveContainerAsync(_containerId, new ContainerRemoveParameters { Force = true, RemoveVolumes = true });
        }

        _host.Dispose();
        Directory.Delete(CertPath, recursive: true);
    }
}

[CollectionDefinition(Name)]
public sealed class RemoteEngineCollection : ICollectionFixture<RemoteEngineFixture>, ICollectionFixture<DockerFixture>
{
    public const string Name = "remote-engine";
}
