using System.Net.Sockets;
using SandboxRunner.Auth;
using SandboxRunner.Configuration;

namespace SandboxRunner.Runs;

/// <summary>
/// The doctor's <c>model-api</c> check: can this machine open a connection to the model endpoint a run's tasks
/// would talk to? Without it a first run on a machine with no way out finds out only when every task's turn fails
/// (with <c>deny</c>, as a 502 from the run's proxy after Codex's five reconnects). A warning, never a failure:
/// the engine may sit on another machine, whose way out this one cannot see.
/// </summary>
public static class ModelRouteCheck
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(3);

    /// <param name="credential">The credential a run would use (<see cref="CredentialRule.Choose"/>): a ChatGPT sign-in talks to another endpoint.</param>
    public static async Task<DoctorCheck?> ExamineAsync(RunnerConfig config, CredentialKind? credential, CancellationToken cancellationToken)
    {
        if (config.NetworkPolicy == NetworkPolicy.None)
        {
            return null;
        }

        var url = credential == CredentialKind.ChatGpt ? config.ChatGptBaseUrl : config.ModelBaseUrl;
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            return null;
        }

        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bound.CancelAfter(Bound);
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(uri.Host, uri.Port, bound.Token);
            return new DoctorCheck("model-api", Doctor.Ok, $"{uri.Host}:{uri.Port} answers from this machine", null);
        }
        catch (Exception e) when (e is SocketException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            var why = e is SocketException socket ? socket.Message : $"no answer within {Bound.TotalSeconds:0} s";
            return new DoctorCheck("model-api", Doctor.Warn,
                $"{uri.Host}:{uri.Port} is out of reach from this machine ({why}): tasks' turns will fail when they call the model",
                "open outbound HTTPS to it on the machine that runs the engine, or point model_base_url at an endpoint it reaches");
        }
    }
}
