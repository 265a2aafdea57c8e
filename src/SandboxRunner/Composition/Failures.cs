using System.Net.Sockets;
using SandboxRunner.Configuration;
using SandboxRunner.Git;
using SandboxRunner.Runs;
using SandboxRunner.Boxes;

namespace SandboxRunner.Host.Composition;

/// <summary>Every failure a verb meets, as its exit code and one message with the fix: never a stack trace.</summary>
internal static class Failures
{
    public static async Task<int> GuardAsync(Func<Task<int>> command)
    {
        try
        {
            return await command();
        }
        catch (Exception e) when (Classify(e) is { } failure)
        {
            await Console.Error.WriteLineAsync($"sandbox-runner: {failure.Message}");
            return failure.Code;
        }
    }

    public static (int Code, string Message)? Classify(Exception e) => e switch
    {
        InvalidInputException { Source: ImageProvisioner.EngineSource } => (ExitCodes.Infrastructure, e.Message),
        InvalidInputException { Source: ImageProvisioner.ImageSource } => (ExitCodes.NotStarted, e.Message),
        InvalidInputException => (ExitCodes.BadInput, e.Message),
        DamagedRunException => (ExitCodes.BadInput, e.Message),
        ImageBuildException => (ExitCodes.NotStarted, e.Message),
        InfrastructureException => (ExitCodes.Infrastructure, e.Message),
        GitException or LibGit2Sharp.LibGit2SharpException => (ExitCodes.Infrastructure, $"git failed: {e.Message}"),
        HttpRequestException or SocketException or TimeoutException or Docker.DotNet.DockerApiException =>
            (ExitCodes.Infrastructure, $"Docker failed ({e.Message}); start the engine (bash .ci/setup does) or set DOCKER_HOST"),
        IOException or UnauthorizedAccessException => (ExitCodes.Infrastructure, $"the runner failed: {e.Message}"),
        InvalidOperationException => (ExitCodes.Infrastructure, $"the runner failed: {e.Message}"),
        OperationCanceledException => (ExitCodes.Interrupted, "interrupted"),
        _ => (ExitCodes.Infrastructure, $"the runner failed unexpectedly ({e.GetType().Name}: {e.Message})"),
    };
}

/// <summary>The machine failed, not the input (an engine that does not answer); the message names what and the fix.</summary>
internal sealed class InfrastructureException(string message, Exception inner) : Exception(message, inner);
