; Inno Setup script for the SenseTwin console on Windows workstations.
; NOT TRIED: no Windows machine was available where this was written. Build steps (on Windows):
;   1. py -3.12 -m venv .venv && .venv\Scripts\pip install -e ".[bundle]"
;   2. .venv\Scripts\pyinstaller --noconfirm packaging\pyinstaller\sensetwin.spec   (gives dist\sensetwin\)
;   3. "C:\Program Files (x86)\Inno Setup 6\ISCC.exe" packaging\windows\sensetwin.iss  (gives dist\SenseTwin-setup.exe)
; The installer puts the one-folder bundle in Program Files, adds Start-menu entries for the console and the demo,
; and removes them again on uninstall. Per-user settings (%LOCALAPPDATA%\SenseTwin) are kept on uninstall.

#define AppName "SenseTwin"
#define AppVersion "0.1.0"

[Setup]
AppId={{6C1F7A52-3E0B-4B0E-9D4A-5E2B7C1D9F31}
AppName={#AppName}
AppVersion={#AppVersion}
AppPublisher=SenseTwin
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
OutputDir=..\..\dist
OutputBaseFilename=SenseTwin-setup
Compression=lzma2
SolidCompression=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
PrivilegesRequired=admin
WizardStyle=modern

[Files]
Source: "..\..\dist\sensetwin\*"; DestDir: "{app}"; Flags: recursesubdirs ignoreversion

[Icons]
Name: "{group}\SenseTwin"; Filename: "{app}\sensetwin.exe"
Name: "{group}\SenseTwin demo"; Filename: "{app}\sensetwin.exe"; Parameters: "demo"
Name: "{group}\Check the SenseTwin system"; Filename: "{cmd}"; Parameters: "/k ""{app}\sensetwin.exe"" check"
Name: "{autodesktop}\SenseTwin"; Filename: "{app}\sensetwin.exe"; Tasks: desktopicon

[Tasks]
Name: "desktopicon"; Description: "Create a desktop shortcut"; Flags: unchecked

[Run]
Filename: "{app}\sensetwin.exe"; Description: "Start SenseTwin"; Flags: nowait postinstall skipifsilent
