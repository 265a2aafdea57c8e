using System.Net;
using Docker.DotNet;
using Docker.DotNet.Models;
using ICSharpCode.SharpZipLib.Tar;
using Microsoft.Extensions.Logging;
using static SandboxRunner.Boxes.Docker.DockerErrors;

namespace SandboxRunner.Boxes.Docker;

/// <summary>Containers over the Docker Engine API, from creation to removal: one call (and at most one log line) per method.</summary>
internal sealed partial class DockerContainers(DockerClient client, ILogger logger, ResourceLabels labels)
{
    /// <summary>Headers (PAX ones included), padding and a 10 KiB record's worth of end blocks.</summary>
    private const int TarSlack = 16 * 1024;

    /// <summary>Sees every container's life (tests record what a run created; see <see cref="IContainerObserver"/>).</summary>
    internal IContainerObserver? Observer { get; set; }

    /// <summary>Creates (does not start) a container, hardened whatever the spec: every capability dropped but those it names, no new privileges.</summary>
    public async Task<string> CreateAsync(ContainerSpec spec, CancellationToken cancellationToken)
    {
        var parameters = new CreateContainerParameters
        {
            Image = spec.Image,
            Cmd = spec.Command.ToList(),
            Entrypoint = spec.Entrypoint?.ToList()!,
            User = spec.User,
            WorkingDir = spec.WorkingDirectory,
            Env = spec.Environment.Select(kv => $"{kv.Key}={kv.Value}").ToList(),
            Labels = labels.StampOwned(spec.Labels),
            AttachStdout = true,
            AttachStderr = true,
            AttachStdin = spec.OpenStdin,
            OpenStdin = spec.OpenStdin,
            StdinOnce = spec.OpenStdin,
            HostConfig = new HostConfig
            {
                Mounts = spec.Mounts.Select(m => new Mount
                {
                    Type = "bind",
                    Source = m.Source,
                    Target = m.Target,
                    ReadOnly = m.ReadOnly,
                    BindOptions = new BindOptions { Propagation = "rprivate" },
                }).Concat(spec.Volumes.Select(target => new Mount { Type = "volume", Target = target })).ToList(),
                VolumesFrom = spec.VolumesFrom.Count == 0 ? null! : spec.VolumesFrom.ToList(),
                Tmpfs = new Dictionary<string, string> { ["/tmp"] = $"rw,nosuid,nodev,size={spec.Limits.TmpBytes}" },
                ReadonlyRootfs = spec.ReadOnlyRootFilesystem,
                CapDrop = ["ALL"],
                CapAdd = spec.CapAdd.ToList(),
                ExtraHosts = spec.ExtraHosts.ToList(),
                DNS = spec.Dns.ToList(),
                SecurityOpt = ["no-new-privileges"],
                Init = spec.Init,
                Memory = spec.Limits.MemoryBytes,
                MemorySwap = spec.Limits.MemoryBytes,
                NanoCPUs = (long)(spec.Limits.Cpus * 1_000_000_000),
                PidsLimit = spec.Limits.Pids,
                NetworkMode = spec.NetworkMode,
                AutoRemove = false,
                Runtime = spec.Runtime,
            },
        };

        if (spec.MaxLogBytes is { } logBytes)
        {
            parameters.HostConfig.LogConfig = new LogConfig
            {
                Type = "json-file",
                Config = new Dictionary<string, string> { ["max-size"] = logBytes.ToString(System.Globalization.CultureInfo.InvariantCulture), ["max-file"] = "2" },
            };
        }

        CreateContainerResponse response;
        try
        {
            response = await client.Containers.CreateContainerAsync(parameters, cancellationToken);
        }
        catch (DockerApiException e)
        {
            throw Failure($"creating a container from {spec.Image}", e);
        }

        LogCreated(Short(response.ID), spec.Image, string.Join(",", spec.Labels.Select(kv => $"{kv.Key}={kv.Value}")));
        Observer?.Created(response.ID, spec);
        return response.ID;
    }

    public async Task StartAsync(string containerId, CancellationToken cancellationToken)
    {
        try
        {
            await client.Containers.StartContainerAsync(containerId, new ContainerStartParameters(), cancellationToken);
            Observer?.Started(containerId);
        }
        catch (DockerApiException e)
        {
            throw Failure($"starting container {Short(containerId)}", e);
        }
    }

    /// <summary>
    /// Starts a container created with <see cref="ContainerSpec.OpenStdin"/> and writes <paramref name="input"/> to its
    /// standard input: how a secret reaches a container without being in its configuration (environment, command,
    /// labels), which anyone holding the engine's API can read. The input is never logged and is zeroed after.
    /// </summary>
    public async Task StartWithInputAsync(string containerId, ReadOnlyMemory<byte> input, CancellationToken cancellationToken)
    {
        using var stdin = await StartAttachedAsync(containerId, cancellationToken);
        await WriteInputAsync(stdin, input, cancellationToken);
    }

    /// <summary>
    /// Starts a container created with <see cref="ContainerSpec.OpenStdin"/> with its standard input held open: what a
    /// gateway made ahead of its run waits on until <see cref="WriteInputAsync"/> hands it the run.
    /// </summary>
    public async Task<MultiplexedStream> StartAttachedAsync(string containerId, CancellationToken cancellationToken)
    {
        // Attached before the start, as `docker start -ai` does, so nothing written is lost.
        var stdin = await client.Containers.AttachContainerAsync(
            containerId, new ContainerAttachParameters { Stream = true, Stdin = true, Stdout = false, Stderr = false }, cancellationToken);
        try
        {
            await StartAsync(containerId, cancellationToken);
            return stdin;
        }
        catch
        {
            stdin.Dispose();
            throw;
        }
    }

    /// <summary>Writes <paramref name="input"/> to a standard input opened by <see cref="StartAttachedAsync"/> and closes it; never logged, zeroed after.</summary>
    public static async Task WriteInputAsync(MultiplexedStream stdin, ReadOnlyMemory<byte> input, CancellationToken cancellationToken)
    {
        var bytes = input.ToArray();
        try
        {
            await stdin.WriteAsync(bytes, 0, bytes.Length, cancellationToken);
            stdin.CloseWrite();
        }
        finally
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(bytes);
        }
    }

    public async Task<long> WaitAsync(string containerId, CancellationToken cancellationToken)
    {
        var code = (await client.Containers.WaitContainerAsync(containerId, cancellationToken)).StatusCode;
        Observer?.Exited(containerId);
        return code;
    }

    public async Task KillAsync(string containerId, CancellationToken cancellationToken)
    {
        try
        {
            await client.Containers.KillContainerAsync(containerId, new ContainerKillParameters { Signal = "SIGKILL" }, cancellationToken);
            LogKilled(Short(containerId));
        }
        catch (DockerApiException e) when (e.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Conflict)
        {
            // Already stopped or gone: the goal of a kill is reached.
        }
    }

    /// <summary>Removes the container (forced: a running one is killed) with its anonymous volumes; one already gone is not an error.</summary>
    public async Task RemoveAsync(string containerId, CancellationToken cancellationToken)
    {
        if (Observer is { } observer)
        {
            await observer.RemovingAsync(containerId, cancellationToken);
        }

        try
        {
            await client.Containers.RemoveContainerAsync(containerId, new ContainerRemoveParameters { Force = true, RemoveVolumes = true }, cancellationToken);
            LogRemoved(Short(containerId));
        }
        catch (DockerContainerNotFoundException)
        {
        }
        catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
        }
        catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.Conflict && e.ResponseBody?.Contains("already in progress", StringComparison.Ordinal) == true)
        {
            // Another removal of ours got there first (a holder released in the background while the run's teardown sweeps
            // its labels): this one's promise, that the container is gone when it returns, is kept by waiting for that one.
            await WaitGoneAsync(containerId, cancellationToken);
            return;
        }

        Observer?.Removed(containerId);
    }

    private async Task WaitGoneAsync(string containerId, CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                await client.Containers.InspectContainerAsync(containerId, cancellationToken);
            }
            catch (DockerContainerNotFoundException)
            {
                return;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(50), cancellationToken);
        }
    }

    /// <summary>Hands the container's demultiplexed output to <paramref name="onChunk"/>: as it is written until the container exits (<paramref name="follow"/>), or all of it at once.</summary>
    public async Task ReadLogsAsync(string containerId, bool follow, Action<LogStream, ReadOnlySpan<byte>> onChunk, CancellationToken cancellationToken)
    {
        using var stream = await client.Containers.GetContainerLogsAsync(
            containerId,
            new ContainerLogsParameters { Follow = follow, ShowStdout = true, ShowStderr = true },
            cancellationToken);
        var buffer = new byte[81920];
        while (true)
        {
            var read = await stream.ReadOutputAsync(buffer, 0, buffer.Length, cancellationToken);
            if (read.EOF)
            {
                return;
            }

            onChunk(read.Target == MultiplexedStream.TargetStream.StandardError ? LogStream.Stderr : LogStream.Stdout, buffer.AsSpan(0, read.Count));
        }
    }

    /// <summary>
    /// A regular file's bytes through the archive API, resolved by the engine within the container's own filesystem.
    /// The response is a chunked stream whose synchronous Read is not supported, so the tar is read asynchronously into a
    /// bounded buffer first: one header, the file, its padding, the end blocks. Anything longer is more than one file or too large.
    /// </summary>
    public async Task<byte[]?> ReadFileAsync(string containerId, string path, long maxBytes, CancellationToken cancellationToken)
    {
        ContainerArchiveResponse archive;
        try
        {
            archive = await client.Containers.GetArchiveFromContainerAsync(containerId, new ContainerPathStatParameters { Path = path }, false, cancellationToken);
        }
        catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        if (archive.Stream is not { } stream)
        {
            return null;
        }

        await using var owned = stream;
        var buffered = await ReadBoundedAsync(stream, checked(maxBytes + TarSlack), cancellationToken);
        if (buffered is null)
        {
            return null;
        }

        using var tar = new TarInputStream(new MemoryStream(buffered, writable: false), System.Text.Encoding.UTF8);
        var entry = tar.GetNextEntry();
        if (entry is null || entry.TarHeader.TypeFlag is not (TarHeader.LF_NORMAL or TarHeader.LF_OLDNORM) || entry.Size > maxBytes)
        {
            return null;
        }

        using var content = new MemoryStream((int)entry.Size);
        tar.CopyEntryContents(content);
        return content.ToArray();
    }

    /// <summary>The whole stream, or null as soon as it passes <paramref name="limit"/> bytes.</summary>
    private static async Task<byte[]?> ReadBoundedAsync(Stream stream, long limit, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        while (true)
        {
            var read = await stream.ReadAsync(chunk, cancellationToken);
            if (read == 0)
            {
                return buffer.ToArray();
            }

            if (buffer.Length + read > limit)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }
    }

    /// <summary>The container's address on <paramref name="network"/>, or null.</summary>
    public async Task<string?> AddressAsync(string containerId, string network, CancellationToken cancellationToken)
    {
        var inspected = await client.Containers.InspectContainerAsync(containerId, cancellationToken);
        return inspected.NetworkSettings?.Networks is { } networks && networks.TryGetValue(network, out var endpoint) && !string.IsNullOrEmpty(endpoint.IPAddress)
            ? endpoint.IPAddress
            : null;
    }

    /// <summary>Containers (running or not) that <paramref name="selector"/> matches, with their labels.</summary>
    public async Task<IReadOnlyList<ContainerListResponse>> ListAsync(LabelSelector selector, CancellationToken cancellationToken) =>
        (await client.Containers.ListContainersAsync(new ContainersListParameters { All = true, Filters = LabelFilter(selector) }, cancellationToken)).ToList();

    [LoggerMessage(Level = LogLevel.Debug, Message = "container {Id} created from {Image} ({Labels})")]
    private partial void LogCreated(string id, string image, string labels);

    [LoggerMessage(Level = LogLevel.Information, Message = "container {Id} killed")]
    private partial void LogKilled(string id);

    [LoggerMessage(Level = LogLevel.Debug, Message = "container {Id} removed")]
    private partial void LogRemoved(string id);
}
