using System.Diagnostics;

namespace SandboxRunner.Host.Composition;

/// <summary>
/// Where the server's start-up time goes, when <c>SANDBOX_RUNNER_STARTUP_TRACE=1</c> (<c>2</c> adds the loaded assemblies' names): one stderr line per stage with
/// the time since the process started, the methods the JIT compiled so far (and its time) and the assemblies
/// loaded. Off by default: it costs nothing but one environment lookup per stage. See BENCHMARKS.md.
/// </summary>
internal static class StartupTrace
{
    public const string Variable = "SANDBOX_RUNNER_STARTUP_TRACE";

    public static void Mark(string stage)
    {
        var level = Environment.GetEnvironmentVariable(Variable);
        if (level is not ("1" or "2"))
        {
            return;
        }

        using var self = Process.GetCurrentProcess();
        var sinceStart = DateTime.Now - self.StartTime;
        Console.Error.WriteLine(
            $"startup: {stage,-28} {sinceStart.TotalMilliseconds,6:F0} ms since exec, cpu {self.TotalProcessorTime.TotalMilliseconds,5:F0} ms, "
            + $"jit {System.Runtime.JitInfo.GetCompiledMethodCount(),5} methods {System.Runtime.JitInfo.GetCompilationTime().TotalMilliseconds,5:F0} ms, "
            + $"{AppDomain.CurrentDomain.GetAssemblies().Length} assemblies");
        if (level == "2")
        {
            // The assemblies loaded so far, by name: what a stage pulled in.
            Console.Error.WriteLine($"  {string.Join(' ', AppDomain.CurrentDomain.GetAssemblies().Select(a => a.GetName().Name).Order(StringComparer.Ordinal))}");
        }
    }
}
