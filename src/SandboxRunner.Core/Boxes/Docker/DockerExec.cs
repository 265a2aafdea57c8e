using System.Net;
using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;
using static SandboxRunner.Boxes.Docker.DockerErrors;

namespace SandboxRunner.Boxes.Docker;

/// <summary>Commands in running containers (the exec API): where verification runs each verify command.</summary>
internal sealed partial class DockerExec(DockerClient client, ILogger logger)
{
    /// <summary>How long a finished exec's exit code may take to show up in its inspection after its stream ended.</summary>
    private static readonly TimeSpan ExitCodeBudget = TimeSpan.FromSeconds(5);

    public async Task<long?> ExecAsync(string containerId, BoxCommand command, Action<LogStream, ReadOnlySpan<byte>> onOutput, CancellationToken cancellationToken)
    {
        ContainerExecCreateResponse created;
        try
        {
            created = await client.Exec.CreateContainerExecAsync(containerId, new ContainerExecCreateParameters
            {
                Cmd = command.Command.ToList(),
                User = command.User,
                WorkingDir = command.WorkingDirectory,
                AttachStdin = false,
                AttachStdout = true,
                AttachStderr = true,
                TTY = false,
                Privileged = false,
            }, cancellationToken);
        }
        catch (DockerApiException e)
        {
            throw Failure($"running a command in container {Short(containerId)}", e);
        }

        LogExec(Short(containerId), command.Command.Count > 0 ? command.Command[0] : "");
        using (var stream = await client.Exec.StartContainerExecAsync(created.ID, new ContainerExecStartParameters { Detach = false, TTY = false }, cancellationToken))
        {
            var buffer = new byte[81920];
            while (true)
            {
                var read = await stream.ReadOutputAsync(buffer, 0, buffer.Length, cancellationToken);
                if (read.EOF)
                {
                    break;
                }

                onOutput(read.Target == MultiplexedStream.TargetStream.StandardError ? LogStream.Stderr : LogStream.Stdout, buffer.AsSpan(0, read.Count));
            }
        }

        // The stream ends when the process does, and the engine records the exit a moment later.
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        budget.CancelAfter(ExitCodeBudget);
        try
        {
            while (true)
            {
                var inspected = await client.Exec.InspectContainerExecAsync(created.ID, budget.Token);
                if (!inspected.Running)
                {
                    return inspected.ExitCode;
                }

                await Task.Delay(50, budget.Token);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return null;
        }
        catch (DockerApiException e) when (e.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Conflict)
        {
            // The container went (killed and removed at a deadline): no exit code to report.
            return null;
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "exec in container {Id}: {Program}")]
    private partial void LogExec(string id, string program);
}
