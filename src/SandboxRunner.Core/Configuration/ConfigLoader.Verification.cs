using System.Text;

namespace SandboxRunner.Configuration;

/// <summary>The rules of the verification fields (issue 22), shared by the config, the tool arguments and the tasks file.</summary>
public static partial class ConfigLoader
{
    internal static string? VerifyCommand(string value) =>
        NonBlank(value) ?? (Encoding.UTF8.GetByteCount(value) > VerifyLimits.MaxCommandBytes
            ? $"must be at most {VerifyLimits.MaxCommandBytes} bytes (8 KiB); put a longer check in a script in the repository and run that"
            : null);
}
