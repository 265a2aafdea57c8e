using System.IO.Pipelines;
using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;
using static SandboxRunner.Boxes.Docker.DockerErrors;

namespace SandboxRunner.Boxes.Docker;

/// <summary>Tar streams into and out of a container's filesystem, resolved by the engine inside the container: the copy transport's way.</summary>
internal sealed partial class DockerArchives(DockerClient client, ILogger logger)
{
    public async Task PutAsync(string containerId, string path, Func<Stream, CancellationToken, Task> writeTar, CancellationToken cancellationToken)
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
            await client.Containers.ExtractArchiveToContainerAsync(containerId, new CopyToContainerParameters { Path = path }, body, cancellationToken);
        }
        catch (DockerApiException e)
        {
            throw Failure($"copying into {path} of container {Short(containerId)}", e);
        }
        finally
        {
            await stop.CancelAsync();
            await pipe.Reader.CompleteAsync();
        }

        // A failure to write the tar (a file unreadable on the host) is the real cause: surface it.
        await producer;
        LogPut(path, Short(containerId));
    }

    public async Task<T> GetAsync<T>(string containerId, string path, Func<Stream, CancellationToken, Task<T>> readTar, CancellationToken cancellationToken)
    {
        ContainerArchiveResponse archive;
        try
        {
            archive = await client.Containers.GetArchiveFromContainerAsync(containerId, new ContainerPathStatParameters { Path = path }, false, cancellationToken);
        }
        catch (DockerApiException e)
        {
            throw Failure($"copying {path} out of container {Short(containerId)}", e);
        }

        await using var stream = archive.Stream ?? Stream.Null;
        return await readTar(stream, cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "archive put into {Path} of container {Id}")]
    private partial void LogPut(string path, string id);
}
