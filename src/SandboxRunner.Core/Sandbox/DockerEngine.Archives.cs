using System.IO.Pipelines;
using System.Net;
using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;

namespace SandboxRunner.Sandbox;

/// <summary>The archive endpoints (copy transport), the probe that decides whether it is needed, and the one of who else can call the engine.</summary>
public sealed partial class DockerEngine
{
    private readonly SemaphoreSlim _probeGate = new(1, 1);
    private bool? _sharesHostFiles;

    public async Task PutArchiveAsync(string containerId, string path, Func<Stream, CancellationToken, Task> writeTar, CancellationToken cancellationToken)
    {
        // Streamed through a pipe: the writer fills it as the engine reads, so a 50k-file tree is never
        // held in memory or written to a temporary file.
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 4 << 20, resumeWriterThreshold: 2 << 20));
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var producer = Task.Run(async () =>
        {
            try
            {
                await writeTar(pipe.Writer.AsStream(leaveOpen: true), stop.Token);
                await pipe.Writer.CompleteAsync();
            }
            catch (Exception e)
            {
                await pipe.Writer.CompleteAsync(e);
                throw;
            }
        }, CancellationToken.None);

        try
        {
            await using var body = pipe.Reader.AsStream();
            await _client.Containers.ExtractArchiveToContainerAsync(containerId, new CopyToContainerParameters { Path = path }, body, cancellationToken);
        }
        catch (DockerApiException e)
        {
            throw Failure($"copying into {path} of container {containerId[..Math.Min(12, containerId.Length)]}", e);
        }
        finally
        {
            await stop.CancelAsync();
            await pipe.Reader.CompleteAsync();
        }

        // A failure to write the tar (a file unreadable on the host) is the real cause: surface it.
        await producer;
    }

    public async Task<T> GetArchiveAsync<T>(string containerId, string path, Func<Stream, CancellationToken, Task<T>> readTar, CancellationToken cancellationToken)
    {
        ContainerArchiveResponse archive;
        try
        {
            archive = await _client.Containers.GetArchiveFromContainerAsync(containerId, new ContainerPathStatParameters { Path = path }, false, cancellationToken);
        }
        catch (DockerApiException e)
        {
            throw Failure($"copying {path} out of container {containerId[..Math.Min(12, containerId.Length)]}", e);
        }

        await using var stream = archive.Stream ?? Stream.Null;
        return await readTar(stream, cancellationToken);
    }

    public async Task<string?> ExposedApiAsync(CancellationToken cancellationToken)
    {
        // Asked once per engine: the endpoint does not change under a process.
        var probe = _exposure;
        if (probe is null || probe.IsFaulted || probe.IsCanceled)
        {
            probe = _exposure = ProbeExposureAsync();
        }

        return await probe.WaitAsync(cancellationToken);
    }

    private async Task<string?> ProbeExposureAsync()
    {
        using var budget = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        string? gateway = null;
        if (Connection.Endpoint.Scheme == "unix")
        {
            var bridge = await _client.Networks.InspectNetworkAsync("bridge", budget.Token);
            gateway = bridge.IPAM?.Config?.Select(c => c.Gateway).FirstOrDefault(g => !string.IsNullOrEmpty(g) && !g.Contains(':', StringComparison.Ordinal));
        }

        return await EngineExposure.ProbeAsync(Connection, gateway, budget.Token);
    }

    private Task<string?>? _exposure;

    public async Task<bool> SharesHostFilesAsync(string image, CancellationToken cancellationToken)
    {
        if (_sharesHostFiles is { } known)
        {
            return known;
        }

        await _probeGate.WaitAsync(cancellationToken);
        try
        {
            _sharesHostFiles ??= await ProbeHostFilesAsync(image, cancellationToken);
            LogTransportProbe(Connection.ToString(), _sharesHostFiles.Value);
            return _sharesHostFiles.Value;
        }
        finally
        {
            _probeGate.Release();
        }
    }

    /// <summary>
    /// A container (created, never started) bind-mounting a fresh folder of this machine that holds one
    /// random file: the engine sees this machine's files only if it can read that file back through the
    /// mount. A remote engine either refuses the mount (no such folder there) or finds the folder without
    /// the file.
    /// </summary>
    private async Task<bool> ProbeHostFilesAsync(string image, CancellationToken cancellationToken)
    {
        var folder = Directory.CreateTempSubdirectory("sandbox-runner-probe-");
        string? id = null;
        try
        {
            var token = Guid.NewGuid().ToString("N");
            await File.WriteAllTextAsync(Path.Combine(folder.FullName, token), token, cancellationToken);
            try
            {
                id = await CreateAsync(new ContainerSpec
                {
                    Image = image,
                    Command = ["true"],
                    Entrypoint = [],
                    User = "65534:65534",
                    WorkingDirectory = "/",
                    Environment = new Dictionary<string, string>(),
                    Mounts = [new BindMount(folder.FullName, "/sandbox-runner-probe", ReadOnly: true)],
                    Labels = new Dictionary<string, string> { [Labels.Role] = "probe" },
                    Limits = new ResourceLimits(64 * 1024 * 1024, 0.1, 16, 1024 * 1024),
                }, cancellationToken);
            }
            catch (InvalidOperationException e) when (e.InnerException is DockerApiException { StatusCode: HttpStatusCode.BadRequest or HttpStatusCode.NotFound or HttpStatusCode.InternalServerError })
            {
                // "invalid mount config: bind source path does not exist": the engine has its own filesystem.
                return false;
            }

            var seen = await ReadFileAsync(id, "/sandbox-runner-probe/" + token, 1024, cancellationToken);
            return seen is not null && System.Text.Encoding.UTF8.GetString(seen) == token;
        }
        finally
        {
            if (id is not null)
            {
                await RemoveAsync(id, CancellationToken.None);
            }

            folder.Delete(recursive: true);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Docker engine {Endpoint}: sees this machine's files: {Shares}")]
    private partial void LogTransportProbe(string endpoint, bool shares);
}
